using System.IO.Compression;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;
using System.Text;
using Transformer.MLNet.Network.Configuration;
using TorchSharp;
using static TorchSharp.torch;

namespace Transformer.MLNet.Network.Kernels;

/// <summary>
/// A bfloat16 projection with its bias and activation in the matrix product's epilogue, for inference:
/// act(x·Wᵀ + b) in one oneDNN primitive instead of three libtorch operations.
/// <para>
/// libtorch's bfloat16 <c>linear</c> multiplies, then adds the bias in a second pass over the output (rounding to
/// bfloat16 in between), and GELU reads and writes the whole (B, T, F) intermediate a third time. oneDNN, which libtorch
/// uses for the product anyway, can apply the bias and the activation to each tile while it is still in registers.
/// libtorch registers that primitive as the operator <c>mkldnn::_linear_pointwise</c> but TorchSharp has no binding for
/// it, so it is reached through a small TorchScript module, written here (<see cref="Archive"/>) and loaded once.
/// </para>
/// <para>
/// The sum and the activation are float32, with one rounding of the output, so the result is closer to float32
/// arithmetic than libtorch's three-step path. Weights are reordered once per pass (<see cref="Prepack"/>, kept by
/// <see cref="InferenceWeights"/>): on the plain weight oneDNN picks a slower implementation. For the feed-forward input
/// of a MiniLM layer (448 × 384 → 1536) on one thread of a Zen 4 EPYC, oneDNN's own timings: 2.71 ms for the fused
/// primitive against 2.47 ms for the product alone plus the bias pass and 0.31 ms of GELU on libtorch's path.
/// </para>
/// Used only on x64 CPUs with AVX512-BF16 and the AVX-512 subsets oneDNN's bfloat16 path needs (BW, DQ, VL); anything
/// else, or any failure to load or run the module, takes libtorch's operations.
/// </summary>
internal static class FusedLinear
{
    private static readonly Lazy<jit.ScriptModule?> Module = new(Load, LazyThreadSafetyMode.ExecutionAndPublication);

    private static volatile bool s_failed;
    private static long s_calls;

    /// <summary>Calls that took the fused path so far in this process.</summary>
    internal static long Calls => Interlocked.Read(ref s_calls);

    /// <summary>Test hook: false forces libtorch's operations; null decides by the usual rules.</summary>
    internal static bool? Override { get; set; }

    /// <summary>Whether this process can use the fused primitive at all (CPU, architecture, a module that loaded).</summary>
    internal static bool Available => Override != false && !s_failed && Supported && Module.Value is not null;

    private static readonly bool s_supported = RuntimeInformation.ProcessArchitecture == Architecture.X64
        && Avx512BW.IsSupported && Avx512DQ.IsSupported && Avx512F.VL.IsSupported && HasBFloat16DotProduct();

    private static bool Supported => s_supported;

    // AVX512_BF16 (CPUID leaf 7, sub-leaf 1, EAX bit 5), which .NET has no intrinsics class for: where it is missing,
    // oneDNN emulates bfloat16 products with a slower implementation, and that case was never measured against
    // libtorch's path, so it keeps libtorch's path.
    private static bool HasBFloat16DotProduct()
    {
        if (!X86Base.IsSupported || X86Base.CpuId(0, 0).Eax < 7)
            return false;
        return (X86Base.CpuId(7, 1).Eax & (1 << 5)) != 0;
    }

    /// <summary>
    /// Whether <see cref="Forward"/> takes this call: bfloat16 CPU input of at least two dimensions and a 2-D bfloat16
    /// weight (plain or from <see cref="Prepack"/>) whose inputs match its last dimension, a bias of the weight's
    /// outputs, no gradient needed.
    /// </summary>
    public static bool Applies(Tensor x, Tensor weight, Tensor? bias)
    {
        if (Override == false || s_failed || !Supported)
            return false;
        if (x.dtype != ScalarType.BFloat16 || weight.dtype != ScalarType.BFloat16 || x.device_type != DeviceType.CPU
            || weight.device_type != DeviceType.CPU || weight.dim() != 2 || x.dim() < 2 || x.shape[^1] != weight.shape[1]
            || x.numel() == 0)
            return false;
        if (bias is null || bias.dtype != ScalarType.BFloat16 || bias.device_type != DeviceType.CPU || bias.dim() != 1
            || bias.shape[0] != weight.shape[0])
            return false;
        if (is_grad_enabled() && (x.requires_grad || weight.requires_grad || bias.requires_grad))
            return false;
        return Module.Value is not null;
    }

    /// <summary>
    /// act(x·Wᵀ + b) over the last dimension (no activation where <paramref name="activation"/> is null), with
    /// <paramref name="weight"/> as it is or as <see cref="Prepack"/> made it. Null where the fused call failed: the
    /// caller then takes libtorch's path, and so does every later call in this process.
    /// </summary>
    public static Tensor? Forward(Tensor x, Tensor weight, Tensor bias, Activation? activation)
    {
        if (!Applies(x, weight, bias))
            throw new ArgumentException("FusedLinear.Forward was called with tensors it does not take; check Applies first.", nameof(x));
        string method = activation switch
        {
            null => "linear",
            Activation.Gelu => "gelu",
            // Not ReLU: oneDNN's turns NaN into 0 where libtorch's keeps it.
            _ => throw new ArgumentOutOfRangeException(nameof(activation), activation, "Only GELU has a fused form."),
        };
        try
        {
            using var contiguous = x.contiguous();
            var result = Module.Value!.invoke<Tensor>(method, contiguous, weight, bias);
            Interlocked.Increment(ref s_calls);
            return result;
        }
        catch (Exception e) when (e is ExternalException or InvalidOperationException or ArgumentException)
        {
            s_failed = true;
            return null;
        }
    }

    /// <summary>
    /// <paramref name="weight"/> (bfloat16, outputs × inputs) reordered once into the blocked layout oneDNN's product
    /// reads, chosen for about <paramref name="rows"/> rows (any row count works with it); an opaque tensor that only
    /// <see cref="Forward"/> reads. Null where this process does not use the fused primitive or the reorder failed.
    /// </summary>
    public static Tensor? Prepack(Tensor weight, long rows)
    {
        if (!Available || weight.dtype != ScalarType.BFloat16 || weight.device_type != DeviceType.CPU || weight.dim() != 2
            || weight.requires_grad && is_grad_enabled())
            return null;
        try
        {
            using var contiguous = weight.contiguous();
            return Module.Value!.invoke<Tensor>("reorder", contiguous, Math.Max(1, rows));
        }
        catch (Exception e) when (e is ExternalException or InvalidOperationException or ArgumentException)
        {
            s_failed = true;
            return null;
        }
    }

    private static jit.ScriptModule? Load()
    {
        if (!Supported)
            return null;
        try
        {
            var module = jit.load(Archive(), CPU);
            module.eval();
            return module;
        }
        catch (Exception e) when (e is ExternalException or InvalidOperationException or ArgumentException or IOException)
        {
            s_failed = true;
            return null;
        }
    }

    // TorchScript as libtorch's own serializer writes it (a class per module, its methods typed, operators of other
    // namespaces as ops.<namespace>.<name>). The activation scalars list is empty: GELU's form is the algorithm string
    // ("none" is the erf form, BERT's), and ReLU has no parameter.
    private const string Source = """
        class Fused(Module):
          __parameters__ = []
          __buffers__ = []
          training : bool
          def linear(self: __torch__.Fused,
            x: Tensor,
            weight: Tensor,
            bias: Tensor) -> Tensor:
            return ops.mkldnn._linear_pointwise(x, weight, bias, "none", annotate(List[Optional[number]], []), "")
          def gelu(self: __torch__.Fused,
            x: Tensor,
            weight: Tensor,
            bias: Tensor) -> Tensor:
            return ops.mkldnn._linear_pointwise(x, weight, bias, "gelu", annotate(List[Optional[number]], []), "none")
          def reorder(self: __torch__.Fused,
            weight: Tensor,
            rows: int) -> Tensor:
            return ops.mkldnn._reorder_linear_weight(weight, rows)

        """;

    /// <summary>
    /// The module as a TorchScript archive: a zip (stored, not compressed) holding its code, its one object pickled with
    /// protocol 2 (training = false, no parameters), an empty constants table and the format version.
    /// </summary>
    internal static byte[] Archive()
    {
        using var buffer = new MemoryStream();
        using (var zip = new ZipArchive(buffer, ZipArchiveMode.Create, leaveOpen: true))
        {
            Add(zip, "fused/data.pkl", DataPickle());
            Add(zip, "fused/code/__torch__.py", Encoding.UTF8.GetBytes(Source.ReplaceLineEndings("\n")));
            Add(zip, "fused/constants.pkl", [0x80, 0x02, (byte)')', (byte)'.']);   // PROTO 2, EMPTY_TUPLE, STOP
            Add(zip, "fused/version", "3\n"u8.ToArray());
        }

        return buffer.ToArray();
    }

    private static void Add(ZipArchive zip, string name, byte[] content)
    {
        using var entry = zip.CreateEntry(name, CompressionLevel.NoCompression).Open();
        entry.Write(content);
    }

    // PROTO 2; GLOBAL __torch__.Fused; EMPTY_TUPLE; NEWOBJ; EMPTY_DICT; MARK; "training" False; SETITEMS; BUILD; STOP.
    private static byte[] DataPickle()
    {
        var bytes = new List<byte> { 0x80, 0x02, (byte)'c' };
        bytes.AddRange("__torch__\nFused\n"u8.ToArray());
        bytes.AddRange([(byte)')', 0x81, (byte)'}', (byte)'(', (byte)'X']);
        bytes.AddRange([8, 0, 0, 0]);   // BINUNICODE's length, little-endian
        bytes.AddRange("training"u8.ToArray());
        bytes.AddRange([0x89, (byte)'u', (byte)'b', (byte)'.']);
        return [.. bytes];
    }
}
