using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using TorchSharp;
using static TorchSharp.torch;

namespace Transformer.MLNet.Network.Kernels;

/// <summary>
/// A projection weight (one or more float32 <c>(out, in)</c> matrices stacked along <c>out</c>, with their biases)
/// copied once into the panel layout of a 256-bit FMA micro-kernel, for inference: <see cref="Forward"/> computes
/// <c>x·Wᵀ + b</c> without packing the weight again on every call, and reads <c>x</c> in place.
/// </summary>
/// <remarks>
/// <para>Why: libtorch's matmul repacks the weight on every call and, at the row counts of a batch of short sentences
/// (a few hundred), stays below the FMA units' rate on AMD processors, where MKL takes its AVX2 path: a Zen 1 EPYC
/// (256-bit instructions on 128-bit units) and a Zen 4 EPYC (512-bit instructions on 256-bit units, so 256-bit FMA
/// loses no width). A weight packed once per pass over the data and a micro-kernel that reads the activations directly
/// are faster there; <see cref="InferenceWeights"/> measures that once per process before using it.</para>
/// <para>Layout (Goto and van de Geijn, "Anatomy of High-Performance Matrix Multiplication", ACM TOMS 34(3), 2008): for
/// each block of <see cref="KC"/> steps of the inner dimension and each panel of <see cref="NR"/> outputs, the block's
/// steps one after another, each the panel's NR weights (zero beyond the last output). The micro-kernel keeps an
/// <see cref="MR"/> × NR tile of the result in 12 vector registers while it streams one panel and broadcasts MR rows of
/// the activations; rows are taken in blocks of <see cref="MC"/>, each panel going by once per block.</para>
/// <para>Results agree with libtorch's product to float32 rounding: each element is a sum of the same products, added
/// in a different order.</para>
/// </remarks>
internal sealed unsafe class PackedWeight : IDisposable
{
    /// <summary>Rows of a micro-tile (one broadcast each per step).</summary>
    internal const int MR = 6;

    /// <summary>Outputs of a micro-tile (two 8-float vectors).</summary>
    internal const int NR = 16;

    /// <summary>
    /// Inner steps per block. A panel of KC × NR floats (96 KB) streams from the L2 cache rather than staying in L1, but
    /// the result tile is written once for products up to 1536 deep (MiniLM's second feed-forward product): on a Zen 1
    /// EPYC that measured about 4 % faster than blocks of 384 steps, which fit L1, for 1536- and 3072-deep products.
    /// </summary>
    internal const int KC = 1536;

    /// <summary>Rows per block: the panel is read once for MC rows, whose activations are re-read for each panel.</summary>
    internal const int MC = 16 * MR;

    private float* _panels;
    private float* _bias;
    private readonly int _paddedOutputs;

    private PackedWeight(int outputs, int inputs, int parts)
    {
        Outputs = outputs;
        Inputs = inputs;
        Parts = parts;
        _paddedOutputs = (outputs + NR - 1) / NR * NR;
        _panels = (float*)NativeMemory.AlignedAlloc((nuint)((long)_paddedOutputs * inputs * sizeof(float)), 64);
        _bias = (float*)NativeMemory.AlignedAlloc((nuint)(_paddedOutputs * sizeof(float)), 64);
        new Span<float>(_bias, _paddedOutputs).Clear();
    }

    private static long s_forwards;

    /// <summary>Products computed by <see cref="Forward"/> in this process (tests read it to see the packed path taken).</summary>
    internal static long ForwardCount => Interlocked.Read(ref s_forwards);

    /// <summary>Whether this CPU has the instructions of the micro-kernel (AVX2 and FMA).</summary>
    internal static bool Supported => Fma.IsSupported && Avx2.IsSupported;

    /// <summary>Outputs of the projection (the stacked weights' rows).</summary>
    public int Outputs { get; }

    /// <summary>Inputs of the projection.</summary>
    public int Inputs { get; }

    /// <summary>How many weight matrices were stacked.</summary>
    public int Parts { get; }

    /// <summary>The biases' handles (0 where none), so that a call with other biases is not answered from this copy.</summary>
    internal IntPtr[] BiasHandles { get; private init; } = [];

    /// <summary>Packs <paramref name="weights"/> (each float32, CPU, (out_i, in) with one common <c>in</c>) stacked
    /// along the outputs, with <paramref name="biases"/> (null or float32 CPU (out_i) each).</summary>
    public static PackedWeight Create(IReadOnlyList<Tensor> weights, IReadOnlyList<Tensor?> biases)
    {
        if (!Supported)
            throw new PlatformNotSupportedException("Packed projections need a CPU with AVX2 and FMA.");
        if (Unpackable(weights, biases) is { } reason)
            throw new ArgumentException(reason, nameof(weights));
        long inputs = weights[0].shape[1], outputs = weights.Sum(w => w.shape[0]);
        var packed = new PackedWeight((int)outputs, (int)inputs, weights.Count)
        {
            BiasHandles = biases.Select(b => b?.Handle ?? IntPtr.Zero).ToArray(),
        };
        try
        {
            using var scope = NewDisposeScope();   // the detached and contiguous views made below
            int row = 0;
            for (int part = 0; part < weights.Count; part++)
            {
                var weight = weights[part].detach().contiguous();
                packed.CopyRows(TensorMemory.Floats(weight), row, (int)weight.shape[0]);
                if (biases[part] is { } bias)
                {
                    var flat = bias.detach().contiguous();
                    if (flat.numel() != weight.shape[0])
                        throw new ArgumentException($"Bias {part} has {flat.numel()} values for {weight.shape[0]} outputs.", nameof(biases));
                    new ReadOnlySpan<float>(TensorMemory.Floats(flat), (int)weight.shape[0]).CopyTo(new Span<float>(packed._bias + row, (int)weight.shape[0]));
                }
                row += (int)weight.shape[0];
            }
            return packed;
        }
        catch
        {
            packed.Dispose();
            throw;
        }
    }

    /// <summary>Why <see cref="Create"/> would refuse these operands, or null where it packs them: one bias (or null) per
    /// weight, float32 CPU matrices with one common, non-zero number of columns, float32 CPU biases, int-sized in all.</summary>
    internal static string? Unpackable(IReadOnlyList<Tensor> weights, IReadOnlyList<Tensor?> biases)
    {
        if (weights.Count == 0 || biases.Count != weights.Count)
            return $"{weights.Count} weights and {biases.Count} biases: give one bias (or null) per weight.";
        long inputs = weights[0].dim() == 2 ? weights[0].shape[1] : 0, outputs = 0;
        foreach (var weight in weights)
        {
            if (weight.dim() != 2 || weight.shape[1] != inputs || weight.dtype != ScalarType.Float32 || weight.device_type != DeviceType.CPU)
                return $"Weights must be float32 CPU matrices with {inputs} columns; got {weight.dtype} [{string.Join(", ", weight.shape)}] on {weight.device_type}.";
            outputs += weight.shape[0];
        }
        foreach (var bias in biases)
        {
            if (bias is not null && (bias.dtype != ScalarType.Float32 || bias.device_type != DeviceType.CPU))
                return $"Biases must be float32 CPU vectors; got {bias.dtype} on {bias.device_type}.";
        }
        return outputs > int.MaxValue / 2 || inputs > int.MaxValue / 2 || inputs == 0
            ? $"A {outputs} × {inputs} weight is out of the packed kernel's range."
            : null;
    }

    // Rows [row0, row0 + count) of the stacked weight, each `Inputs` floats, into their panels; the panels' zero padding
    // beyond the last output is written by the last call (outputs up to the padded count). Groups of 8 real rows are
    // transposed 8 steps at a time in registers; the rest element by element.
    private void CopyRows(float* source, int row0, int count)
    {
        int end = row0 + count == Outputs ? _paddedOutputs : row0 + count;
        for (int depth0 = 0; depth0 < Inputs; depth0 += KC)
        {
            int depth = Math.Min(KC, Inputs - depth0);
            float* block = _panels + (long)depth0 * _paddedOutputs;
            for (int panel0 = row0 / NR * NR; panel0 < end; panel0 += NR)
            {
                float* panel = block + (long)(panel0 / NR) * depth * NR;
                for (int group = 0; group < NR; group += 8)
                {
                    int first = Math.Max(row0, panel0 + group), last = Math.Min(end, panel0 + group + 8);
                    int p0 = 0;
                    if (first == panel0 + group && last == first + 8 && last <= row0 + count)
                    {
                        float* line = source + (long)(first - row0) * Inputs + depth0;
                        for (; p0 + 8 <= depth; p0 += 8)
                            Transpose8(line + p0, Inputs, panel + (long)p0 * NR + group, NR);
                    }
                    for (int output = first; output < last; output++)
                    {
                        float* target = panel + output - panel0;
                        if (output >= row0 + count)
                        {
                            for (int p = 0; p < depth; p++)
                                target[p * NR] = 0f;
                            continue;
                        }
                        float* line = source + (long)(output - row0) * Inputs + depth0;
                        for (int p = p0; p < depth; p++)
                            target[p * NR] = line[p];
                    }
                }
            }
        }
    }

    // 8 rows of 8 floats (row i at source + i·sourceStride) into 8 rows at target + c·targetStride, transposed: unpack
    // pairs of rows, shuffle pairs of pairs, then swap 128-bit halves.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void Transpose8(float* source, long sourceStride, float* target, long targetStride)
    {
        var v0 = Avx.LoadVector256(source);
        var v1 = Avx.LoadVector256(source + sourceStride);
        var v2 = Avx.LoadVector256(source + 2 * sourceStride);
        var v3 = Avx.LoadVector256(source + 3 * sourceStride);
        var v4 = Avx.LoadVector256(source + 4 * sourceStride);
        var v5 = Avx.LoadVector256(source + 5 * sourceStride);
        var v6 = Avx.LoadVector256(source + 6 * sourceStride);
        var v7 = Avx.LoadVector256(source + 7 * sourceStride);
        var t0 = Avx.UnpackLow(v0, v1);
        var t1 = Avx.UnpackHigh(v0, v1);
        var t2 = Avx.UnpackLow(v2, v3);
        var t3 = Avx.UnpackHigh(v2, v3);
        var t4 = Avx.UnpackLow(v4, v5);
        var t5 = Avx.UnpackHigh(v4, v5);
        var t6 = Avx.UnpackLow(v6, v7);
        var t7 = Avx.UnpackHigh(v6, v7);
        var u0 = Avx.Shuffle(t0, t2, 0x44);
        var u1 = Avx.Shuffle(t0, t2, 0xEE);
        var u2 = Avx.Shuffle(t1, t3, 0x44);
        var u3 = Avx.Shuffle(t1, t3, 0xEE);
        var u4 = Avx.Shuffle(t4, t6, 0x44);
        var u5 = Avx.Shuffle(t4, t6, 0xEE);
        var u6 = Avx.Shuffle(t5, t7, 0x44);
        var u7 = Avx.Shuffle(t5, t7, 0xEE);
        Avx.Store(target, Avx.Permute2x128(u0, u4, 0x20));
        Avx.Store(target + targetStride, Avx.Permute2x128(u1, u5, 0x20));
        Avx.Store(target + 2 * targetStride, Avx.Permute2x128(u2, u6, 0x20));
        Avx.Store(target + 3 * targetStride, Avx.Permute2x128(u3, u7, 0x20));
        Avx.Store(target + 4 * targetStride, Avx.Permute2x128(u0, u4, 0x31));
        Avx.Store(target + 5 * targetStride, Avx.Permute2x128(u1, u5, 0x31));
        Avx.Store(target + 6 * targetStride, Avx.Permute2x128(u2, u6, 0x31));
        Avx.Store(target + 7 * targetStride, Avx.Permute2x128(u3, u7, 0x31));
    }

    /// <summary>Whether <see cref="Forward"/> takes <paramref name="x"/>: float32 on the CPU with <see cref="Inputs"/> features.</summary>
    public bool Accepts(Tensor x) =>
        _panels is not null && x.dtype == ScalarType.Float32 && x.device_type == DeviceType.CPU && x.dim() >= 1
        && x.shape[^1] == Inputs && x.numel() / Inputs <= int.MaxValue;

    /// <summary><c>x·Wᵀ + b</c> for x of shape (…, in): (…, out). No autograd.</summary>
    public Tensor Forward(Tensor x)
    {
        ObjectDisposedException.ThrowIf(_panels is null, this);
        using var flat = x.reshape(-1, Inputs).contiguous();
        int rows = (int)flat.shape[0];
        var shape = x.shape.ToArray();
        shape[^1] = Outputs;
        var result = empty(shape, ScalarType.Float32);
        Multiply(rows, TensorMemory.Floats(flat), Inputs, TensorMemory.Floats(result), Outputs, Math.Max(1, get_num_threads()));
        Interlocked.Increment(ref s_forwards);
        return result;
    }

    /// <summary><c>C[rows × Outputs] = A[rows × Inputs]·Wᵀ + b</c>; A and C row-major with the given strides.</summary>
    internal void Multiply(int rows, float* a, long lda, float* c, long ldc, int threads)
    {
        ObjectDisposedException.ThrowIf(_panels is null, this);
        if (rows <= 0)
            return;
        int rowPanels = (rows + MR - 1) / MR, columnPanels = _paddedOutputs / NR;
        threads = Math.Max(1, Math.Min(threads, Math.Max(rowPanels, columnPanels)));
        if (threads == 1)
        {
            Share(0, rowPanels, 0, columnPanels, rows, a, lda, c, ldc);
            return;
        }

        // Each thread a contiguous range of output panels (their weights are read by that thread only), unless there
        // are too few of them to share.
        bool byColumns = columnPanels >= 2 * threads || columnPanels >= rowPanels;
        int units = byColumns ? columnPanels : rowPanels;
        Parallel.For(0, threads, new ParallelOptions { MaxDegreeOfParallelism = threads }, t =>
        {
            int first = (int)((long)units * t / threads), last = (int)((long)units * (t + 1) / threads);
            if (byColumns)
                Share(0, rowPanels, first, last, rows, a, lda, c, ldc);
            else
                Share(first, last, 0, columnPanels, rows, a, lda, c, ldc);
        });
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]   // fully optimised from the first call (no tier-0 code)
    private void Share(int rowPanel0, int rowPanel1, int columnPanel0, int columnPanel1, int rows, float* a, long lda, float* c, long ldc)
    {
        float* edge = stackalloc float[MR * NR];
        for (int depth0 = 0; depth0 < Inputs; depth0 += KC)
        {
            int depth = Math.Min(KC, Inputs - depth0);
            float* block = _panels + (long)depth0 * _paddedOutputs;
            bool first = depth0 == 0;
            for (int rows0 = rowPanel0; rows0 < rowPanel1; rows0 += MC / MR)
            {
                int rows1 = Math.Min(rows0 + MC / MR, rowPanel1);
                for (int jp = columnPanel0; jp < columnPanel1; jp++)
                {
                    float* panel = block + (long)jp * depth * NR;
                    int column0 = jp * NR, columns = Math.Min(NR, Outputs - column0);
                    float* bias = first ? _bias + column0 : null;
                    for (int ip = rows0; ip < rows1; ip++)
                    {
                        int row0 = ip * MR, count = Math.Min(MR, rows - row0);
                        float* row = a + row0 * lda + depth0;
                        float* tile = c + row0 * ldc + column0;
                        if (count == MR && columns == NR)
                        {
                            Kernel(depth, row, row + lda, row + 2 * lda, row + 3 * lda, row + 4 * lda, row + 5 * lda,
                                panel, tile, ldc, bias, accumulate: !first);
                            continue;
                        }

                        // Edge tile: rows beyond the last read the panel's first row again; the whole tile goes to a
                        // scratch tile, of which the valid part is copied (or added).
                        Kernel(depth, row, count > 1 ? row + lda : row, count > 2 ? row + 2 * lda : row,
                            count > 3 ? row + 3 * lda : row, count > 4 ? row + 4 * lda : row, count > 5 ? row + 5 * lda : row,
                            panel, edge, NR, bias, accumulate: false);
                        for (int r = 0; r < count; r++)
                        {
                            float* target = tile + r * ldc, source = edge + r * NR;
                            for (int j = 0; j < columns; j++)
                                target[j] = first ? source[j] : target[j] + source[j];
                        }
                    }
                }
            }
        }
    }

    // C[MR × NR] (+)= Σ_p (a0[p] … a5[p]) ⊗ B[p][0..NR) (+ bias): 12 accumulators, two B vectors, one broadcast.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Kernel(int depth, float* a0, float* a1, float* a2, float* a3, float* a4, float* a5, float* b,
        float* c, long ldc, float* bias, bool accumulate)
    {
        Vector256<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default,
            c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        for (int p = 0; p < depth; p++)
        {
            var b0 = Avx.LoadAlignedVector256(b);
            var b1 = Avx.LoadAlignedVector256(b + 8);
            Vector256<float> x;
            x = Vector256.Create(a0[p]); c00 = Fma.MultiplyAdd(x, b0, c00); c01 = Fma.MultiplyAdd(x, b1, c01);
            x = Vector256.Create(a1[p]); c10 = Fma.MultiplyAdd(x, b0, c10); c11 = Fma.MultiplyAdd(x, b1, c11);
            x = Vector256.Create(a2[p]); c20 = Fma.MultiplyAdd(x, b0, c20); c21 = Fma.MultiplyAdd(x, b1, c21);
            x = Vector256.Create(a3[p]); c30 = Fma.MultiplyAdd(x, b0, c30); c31 = Fma.MultiplyAdd(x, b1, c31);
            x = Vector256.Create(a4[p]); c40 = Fma.MultiplyAdd(x, b0, c40); c41 = Fma.MultiplyAdd(x, b1, c41);
            x = Vector256.Create(a5[p]); c50 = Fma.MultiplyAdd(x, b0, c50); c51 = Fma.MultiplyAdd(x, b1, c51);
            b += NR;
        }

        Vector256<float> bias0 = Vector256<float>.Zero, bias1 = Vector256<float>.Zero;
        if (bias is not null)
        {
            bias0 = Vector256.Load(bias);
            bias1 = Vector256.Load(bias + 8);
        }
        Store(c, c00 + bias0, c01 + bias1, accumulate); c += ldc;
        Store(c, c10 + bias0, c11 + bias1, accumulate); c += ldc;
        Store(c, c20 + bias0, c21 + bias1, accumulate); c += ldc;
        Store(c, c30 + bias0, c31 + bias1, accumulate); c += ldc;
        Store(c, c40 + bias0, c41 + bias1, accumulate); c += ldc;
        Store(c, c50 + bias0, c51 + bias1, accumulate);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store(float* c, Vector256<float> v0, Vector256<float> v1, bool accumulate)
    {
        if (accumulate)
        {
            v0 += Vector256.Load(c);
            v1 += Vector256.Load(c + 8);
        }
        Vector256.Store(v0, c);
        Vector256.Store(v1, c + 8);
    }

    /// <summary>Frees the packed copy. Calling it again does nothing.</summary>
    public void Dispose()
    {
        NativeMemory.AlignedFree(_panels);
        NativeMemory.AlignedFree(_bias);
        _panels = null;
        _bias = null;
    }
}
