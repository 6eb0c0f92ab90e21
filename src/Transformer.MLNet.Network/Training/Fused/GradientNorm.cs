using System.Numerics;
using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;
using Parameter = TorchSharp.Modules.Parameter;

namespace Transformer.MLNet.Network.Training.Fused;

/// <summary>
/// The global L2 norm of a model's gradients (all of them as one vector, as global-norm clipping needs), in one pass
/// over float32 or bfloat16 CPU gradients spread over the intra-op threads and summed in float64.
/// </summary>
/// <remarks>
/// libtorch's <c>clip_grad_norm_</c> takes a norm per parameter and then multiplies every gradient by the clamped
/// coefficient, 1 included: a read and a read-write pass over all gradients, a third of a MiniLM fine-tuning update.
/// Here the norm reads each gradient once, and <see cref="AdamW.GradientScale"/> applies the coefficient while the step
/// reads the gradient anyway. Squares are summed in float64, so no gradient below float32's range overflows the sum.
/// Gradients elsewhere than the CPU, of other types or not contiguous are summed by tensor operations.
/// </remarks>
internal static class GradientNorm
{
    private const int ChunkElements = 1 << 16;

    /// <summary>√(Σ g²) over the gradients of <paramref name="parameters"/> (those without one are skipped).</summary>
    public static double Compute(IEnumerable<Parameter> parameters)
    {
        using var scope = NewDisposeScope();
        var chunks = new List<(Tensor Gradient, bool BFloat16, int Offset, int Length)>();
        var others = new List<Tensor>();
        foreach (var parameter in parameters)
        {
            var gradient = parameter.grad;
            if (gradient is null)
                continue;
            bool bfloat16 = AdamW.FusableBFloat16(gradient);
            if (bfloat16 || AdamW.Fusable(gradient))
            {
                int count = (int)gradient.numel();
                for (int offset = 0; offset < count; offset += ChunkElements)
                    chunks.Add((gradient, bfloat16, offset, Math.Min(ChunkElements, count - offset)));
            }
            else
            {
                others.Add(gradient.to_type(ScalarType.Float64).square().sum());
            }
        }

        var partial = new double[chunks.Count];
        var parallel = new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, get_num_threads()) };
        Parallel.For(0, chunks.Count, parallel, i =>
        {
            var (gradient, bfloat16, offset, length) = chunks[i];
            partial[i] = bfloat16
                ? SumOfSquares(MemoryMarshal.Cast<byte, ushort>(gradient.bytes).Slice(offset, length))
                : SumOfSquares(MemoryMarshal.Cast<byte, float>(gradient.bytes).Slice(offset, length));
        });
        double total = partial.Sum();
        foreach (var other in others)
            total += other.ToDouble();
        return Math.Sqrt(total);
    }

    /// <summary>Σ x² in float64 over bfloat16 bits, widened to float32 a block at a time.</summary>
    internal static double SumOfSquares(ReadOnlySpan<ushort> bits)
    {
        Span<float> widened = stackalloc float[1024];
        double sum = 0;
        for (int start = 0; start < bits.Length; start += widened.Length)
        {
            var block = widened[..Math.Min(widened.Length, bits.Length - start)];
            BFloat16Bits.Widen(bits.Slice(start, block.Length), block);
            sum += SumOfSquares(block);
        }

        return sum;
    }

    /// <summary>Σ x² in float64.</summary>
    internal static double SumOfSquares(ReadOnlySpan<float> x)
    {
        int done = 0;
        double sum = 0;
        if (Vector.IsHardwareAccelerated)
        {
            var vectors = MemoryMarshal.Cast<float, Vector<float>>(x);
            Vector<double> low = Vector<double>.Zero, high = Vector<double>.Zero;
            foreach (var v in vectors)
            {
                Vector.Widen(v, out var a, out var b);
                low += a * a;
                high += b * b;
            }

            sum = Vector.Sum(low + high);
            done = vectors.Length * Vector<float>.Count;
        }

        for (int i = done; i < x.Length; i++)
            sum += (double)x[i] * x[i];
        return sum;
    }
}
