using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using TorchSharp;
using static TorchSharp.torch;

namespace Transformer.MLNet.Network.Kernels;

/// <summary>
/// Post-norm residual sum for inference, LayerNorm(y + x)·γ + β, in one pass over each row that writes over y.
/// <para>
/// libtorch's path adds in one operation and normalises in another; in bfloat16 the sum is rounded before it is
/// normalised. Here each row is added, its mean and variance (two-pass, float32) taken and the result written while the
/// row is in cache. For one of a MiniLM layer's two sums at 32 × 14 tokens, one thread of a Zen 4 EPYC: 0.078 against
/// libtorch's 0.122 ms in bfloat16, 0.046 against 0.088 ms in float32. Arithmetic is float32 whatever the tensors' type,
/// with one rounding of the output.
/// </para>
/// No autograd: <see cref="Applies"/> refuses tensors that would need gradients.
/// </summary>
internal static unsafe class ResidualNorm
{
    /// <summary>Longest row taken (its float32 copy lives on the stack).</summary>
    internal const int MaxWidth = 4096;

    /// <summary>Below this many elements a call runs on one thread whatever the intra-op thread count.</summary>
    private const long ParallelElements = 1L << 18;

    private static long s_calls;

    /// <summary>Calls of <see cref="AddNormInPlace"/> so far in this process.</summary>
    internal static long Calls => Interlocked.Read(ref s_calls);

    /// <summary>Test hook: false forces libtorch's operations; null decides by the usual rules.</summary>
    internal static bool? Override { get; set; }

    /// <summary>
    /// Whether <see cref="AddNormInPlace"/> takes this call: CPU with AVX2/FMA, float32 or bfloat16 throughout,
    /// contiguous y and x of one shape whose last dimension is the norm's width (a multiple of 8, at most
    /// <see cref="MaxWidth"/>), elementwise affine weights of that width, and no gradient needed.
    /// </summary>
    public static bool Applies(Tensor y, Tensor x, Tensor? weight, Tensor? bias)
    {
        if (Override == false || !Avx2.IsSupported || !Fma.IsSupported)
            return false;
        if (y.device_type != DeviceType.CPU || (y.dtype != ScalarType.Float32 && y.dtype != ScalarType.BFloat16))
            return false;
        if (is_grad_enabled() && (y.requires_grad || x.requires_grad || weight?.requires_grad == true || bias?.requires_grad == true))
            return false;
        if (weight is null || bias is null || y.dim() < 1 || x.dim() < 1 || !y.shape.SequenceEqual(x.shape) || x.dtype != y.dtype
            || x.device_type != DeviceType.CPU || !y.is_contiguous() || !x.is_contiguous())
            return false;
        long width = y.shape[^1];
        return width % 8 == 0 && width <= MaxWidth && Matches(weight, y, width) && Matches(bias, y, width);
    }

    private static bool Matches(Tensor parameter, Tensor y, long width) =>
        parameter.dim() == 1 && parameter.shape[0] == width && parameter.dtype == y.dtype
        && parameter.device_type == DeviceType.CPU && parameter.is_contiguous();

    /// <summary>y ← LayerNorm(y + x)·γ + β over the last dimension; returns y.</summary>
    public static Tensor AddNormInPlace(Tensor y, Tensor x, Tensor weight, Tensor bias, double eps)
    {
        if (!Applies(y, x, weight, bias))
            throw new ArgumentException("ResidualNorm.AddNormInPlace was called with tensors it does not take; check Applies first.", nameof(y));
        int width = (int)y.shape[^1];
        long rows = y.numel() / Math.Max(1, width);
        bool bfloat16 = y.dtype == ScalarType.BFloat16;
        var target = new Row(TensorMemory.Bytes(y), TensorMemory.Bytes(x), TensorMemory.Bytes(weight), TensorMemory.Bytes(bias), width, (float)eps, bfloat16);
        int threads = rows * width < ParallelElements ? 1 : (int)Math.Min(rows, Math.Max(1, get_num_threads()));
        if (threads == 1)
        {
            Rows(0, rows, target);
        }
        else
        {
            Parallel.For(0, threads, new ParallelOptions { MaxDegreeOfParallelism = threads }, t =>
                Rows(rows * t / threads, rows * (t + 1) / threads, target));
        }

        Interlocked.Increment(ref s_calls);
        return y;
    }

    private readonly struct Row(byte* y, byte* x, byte* weight, byte* bias, int width, float eps, bool bfloat16)
    {
        public byte* Y { get; } = y;
        public byte* X { get; } = x;
        public byte* Weight { get; } = weight;
        public byte* Bias { get; } = bias;
        public int Width { get; } = width;
        public float Eps { get; } = eps;
        public bool BFloat16 { get; } = bfloat16;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Rows(long first, long last, Row shape)
    {
        int width = shape.Width, size = shape.BFloat16 ? 2 : 4;
        bool bfloat16 = shape.BFloat16;
        float* sum = stackalloc float[width];
        float* gamma = stackalloc float[width];
        float* beta = stackalloc float[width];
        BFloat16Lanes.ToFloat32(shape.Weight, gamma, width, bfloat16);
        BFloat16Lanes.ToFloat32(shape.Bias, beta, width, bfloat16);
        float inverseWidth = 1f / width;
        int quads = width / 32 * 32;
        for (long r = first; r < last; r++)
        {
            byte* y = shape.Y + r * width * size, x = shape.X + r * width * size;
            // The sum, and its total in four chains (so that the additions' latency overlaps).
            Vector256<float> t0 = default, t1 = default, t2 = default, t3 = default;
            int i = 0;
            for (; i < quads; i += 32)
            {
                var s0 = BFloat16Lanes.Load(y, i, bfloat16) + BFloat16Lanes.Load(x, i, bfloat16);
                var s1 = BFloat16Lanes.Load(y, i + 8, bfloat16) + BFloat16Lanes.Load(x, i + 8, bfloat16);
                var s2 = BFloat16Lanes.Load(y, i + 16, bfloat16) + BFloat16Lanes.Load(x, i + 16, bfloat16);
                var s3 = BFloat16Lanes.Load(y, i + 24, bfloat16) + BFloat16Lanes.Load(x, i + 24, bfloat16);
                s0.Store(sum + i);
                s1.Store(sum + i + 8);
                s2.Store(sum + i + 16);
                s3.Store(sum + i + 24);
                t0 += s0;
                t1 += s1;
                t2 += s2;
                t3 += s3;
            }

            for (; i < width; i += 8)
            {
                var s0 = BFloat16Lanes.Load(y, i, bfloat16) + BFloat16Lanes.Load(x, i, bfloat16);
                s0.Store(sum + i);
                t0 += s0;
            }

            var mean = Vector256.Create(Vector256.Sum((t0 + t1) + (t2 + t3)) * inverseWidth);
            Vector256<float> q0 = default, q1 = default, q2 = default, q3 = default;
            for (i = 0; i < quads; i += 32)
            {
                var d0 = Vector256.Load(sum + i) - mean;
                var d1 = Vector256.Load(sum + i + 8) - mean;
                var d2 = Vector256.Load(sum + i + 16) - mean;
                var d3 = Vector256.Load(sum + i + 24) - mean;
                q0 = Vector256.FusedMultiplyAdd(d0, d0, q0);
                q1 = Vector256.FusedMultiplyAdd(d1, d1, q1);
                q2 = Vector256.FusedMultiplyAdd(d2, d2, q2);
                q3 = Vector256.FusedMultiplyAdd(d3, d3, q3);
            }

            for (; i < width; i += 8)
            {
                var d0 = Vector256.Load(sum + i) - mean;
                q0 = Vector256.FusedMultiplyAdd(d0, d0, q0);
            }

            var scale = Vector256.Create(1f / MathF.Sqrt(Vector256.Sum((q0 + q1) + (q2 + q3)) * inverseWidth + shape.Eps));
            var shift = -mean * scale;
            for (i = 0; i < width; i += 8)
            {
                // ((s − μ)·σ⁻¹)·γ + β, with (s − μ)·σ⁻¹ as s·σ⁻¹ − μ·σ⁻¹.
                var n = Vector256.FusedMultiplyAdd(Vector256.FusedMultiplyAdd(Vector256.Load(sum + i), scale, shift), Vector256.Load(gamma + i), Vector256.Load(beta + i));
                BFloat16Lanes.Store(y, i, n, bfloat16);
            }
        }
    }
}
