using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using TorchSharp;
using static TorchSharp.torch;

namespace Transformer.MLNet.Network.Kernels;

/// <summary>
/// Inference attention computed straight from the packed query/key/value projection of a batch, (B, T, 3·D) with the
/// heads of each part side by side, into the merged heads (B, T, D): softmax(q·kᵀ/√d)·v per head, with a key mask.
/// <para>
/// libtorch's path for the same result splits the heads with strided views, runs two batched products of tiny
/// matrices per head and a softmax, and copies the heads back together: at the short texts of sentence embedding
/// (12 heads of 32 at 14 tokens, batches of 32) that took 0.66 ms in bfloat16 on one thread of a Zen 4 EPYC, about 8 %
/// of a MiniLM layer whose arithmetic is 99 % in the projections. Here each head's keys are transposed once into
/// float32, four query rows at a time get their scores, softmax and weighted values in registers, and the result is
/// written where the merged heads go: 0.32 ms for the same heads (0.33 against 0.78 ms in float32). Arithmetic is
/// float32 whatever the tensors' type (bfloat16 values are widened exactly and the output rounded to nearest even once),
/// so bfloat16 results are closer to float32 attention than libtorch's, which rounds the scores and the weights to
/// bfloat16. <see cref="ForwardSegments"/> takes rows laid end to end without padding instead of a key mask.
/// </para>
/// No autograd: <see cref="Applies"/> refuses tensors that would need gradients.
/// </summary>
internal static unsafe class PackedAttention
{
    /// <summary>
    /// Longest key sequence taken. Measured against libtorch's path, 12 heads (one thread of a Zen 4 EPYC unless said):
    /// 1.10–1.14× at 128 keys (4 × 128, heads of 32); at 256 keys from 0.64× (bfloat16, heads of 64, two threads) to
    /// 1.82× (float32, the same); at 512 keys 0.57–0.64× in float32, where libtorch's blocked kernel is the better one.
    /// </summary>
    internal const int MaxKeys = 128;

    /// <summary>Below this many multiply-adds a call runs on one thread whatever the intra-op thread count.</summary>
    private const long ParallelWork = 1L << 20;

    private static long s_calls;

    /// <summary>Calls of <see cref="Forward"/> so far in this process (tests check that a model's attention came here).</summary>
    internal static long Calls => Interlocked.Read(ref s_calls);

    /// <summary>Test hook: false forces the libtorch path; null decides by the usual rules.</summary>
    internal static bool? Override { get; set; }

    /// <summary>
    /// Whether <see cref="Forward"/> takes this call: CPU with 256-bit vectors, float32 or bfloat16, no gradient
    /// needed, (B, T, 3·D) with D a multiple of <paramref name="heads"/> and a head size that is a multiple of 8 up to
    /// 256, T ≤ <see cref="MaxKeys"/>, and a (B, 1, 1, T) boolean key mask or none.
    /// </summary>
    public static bool Applies(Tensor packed, Tensor? keyMask, int heads)
    {
        if (Override == false || !Avx2.IsSupported || !Fma.IsSupported)
            return false;
        if (packed.device_type != DeviceType.CPU || (packed.dtype != ScalarType.Float32 && packed.dtype != ScalarType.BFloat16))
            return false;
        if (packed.requires_grad && is_grad_enabled())
            return false;
        if (packed.dim() != 3 || heads <= 0 || packed.shape[2] % (3L * heads) != 0 || packed.shape[1] > MaxKeys || packed.shape[1] == 0)
            return false;
        long headDim = packed.shape[2] / (3L * heads);
        if (headDim % 8 != 0 || headDim > 256)
            return false;
        return keyMask is null
            || (keyMask.device_type == DeviceType.CPU && keyMask.dtype == ScalarType.Bool && keyMask.dim() == 4
                && keyMask.shape[0] == packed.shape[0] && keyMask.shape[1] == 1 && keyMask.shape[2] == 1 && keyMask.shape[3] == packed.shape[1]);
    }

    /// <summary>
    /// Attention of every head: (B, T, 3·D) packed [q | k | v] → (B, T, D). A query whose keys are all masked gets NaN,
    /// as softmax over no keys does in libtorch.
    /// </summary>
    public static Tensor Forward(Tensor packed, Tensor? keyMask, int heads)
    {
        if (!Applies(packed, keyMask, heads))
            throw new ArgumentException("PackedAttention.Forward was called with tensors it does not take; check Applies first.", nameof(packed));
        using var source = packed.contiguous();
        using var mask = keyMask?.contiguous();
        int batch = (int)source.shape[0], length = (int)source.shape[1];
        var starts = new int[batch + 1];
        for (int row = 0; row <= batch; row++)
            starts[row] = row * length;
        return Run(source, mask is null ? null : TensorMemory.Bytes(mask), starts, length, heads);
    }

    /// <summary>
    /// Whether <see cref="ForwardSegments"/> takes rows of up to <paramref name="longest"/> tokens of a model
    /// <paramref name="model"/> wide with <paramref name="heads"/> heads in <paramref name="type"/>: the conditions of
    /// <see cref="Applies"/> without a mask.
    /// </summary>
    public static bool TakesSegments(ScalarType type, long model, int heads, long longest) =>
        Override != false && Avx2.IsSupported && Fma.IsSupported && (type == ScalarType.Float32 || type == ScalarType.BFloat16)
        && heads > 0 && model % heads == 0 && model / heads % 8 == 0 && model / heads <= 256 && longest >= 1 && longest <= MaxKeys;

    /// <summary>
    /// Attention of every head within each of several rows laid end to end, with no padding: (1, N, 3·D) packed
    /// [q | k | v] of all rows' tokens, row r being tokens <paramref name="starts"/>[r] to
    /// <paramref name="starts"/>[r + 1] − 1, → (1, N, D). Each token attends to every token of its own row only.
    /// </summary>
    public static Tensor ForwardSegments(Tensor packed, int[] starts, int heads)
    {
        ArgumentNullException.ThrowIfNull(starts);
        if (packed.dim() != 3 || packed.shape[0] != 1 || packed.device_type != DeviceType.CPU || packed.shape[2] % 3 != 0
            || (packed.requires_grad && is_grad_enabled()) || starts.Length < 2 || starts[0] != 0 || starts[^1] != packed.shape[1])
            throw new ArgumentException("PackedAttention.ForwardSegments takes (1, N, 3·D) with row starts from 0 to N.", nameof(packed));
        int longest = 0;
        for (int row = 0; row + 1 < starts.Length; row++)
        {
            if (starts[row + 1] < starts[row])
                throw new ArgumentException("Row starts must not decrease.", nameof(starts));
            longest = Math.Max(longest, starts[row + 1] - starts[row]);
        }

        if (!TakesSegments(packed.dtype, packed.shape[2] / 3, heads, Math.Max(1, longest)))
            throw new ArgumentException("PackedAttention.ForwardSegments was called with rows it does not take; check TakesSegments first.", nameof(packed));
        using var source = packed.contiguous();
        return Run(source, null, starts, Math.Max(1, longest), heads);
    }

    // Rows r = 0 .. starts.Length − 2 of tokens starts[r] .. starts[r + 1] − 1; a mask (one byte per token, rows of
    // `longest` bytes) only where every row is `longest` long.
    private static Tensor Run(Tensor source, byte* mask, int[] starts, int longest, int heads)
    {
        int rows = starts.Length - 1, model = (int)(source.shape[2] / 3), headDim = model / heads;
        bool bfloat16 = source.dtype == ScalarType.BFloat16;
        var result = empty([source.shape[0], source.shape[1], model], source.dtype);
        byte* sourceBase = TensorMemory.Bytes(source), resultBase = TensorMemory.Bytes(result);
        var shape = new Shape(longest, model, headDim, heads, bfloat16);

        int units = rows * heads;
        long work = (long)units * longest * longest * headDim;
        int threads = work < ParallelWork ? 1 : Math.Min(units, Math.Max(1, get_num_threads()));
        fixed (int* rowStarts = starts)
        {
            int* startsBase = rowStarts;
            if (threads == 1)
            {
                Range(0, units, sourceBase, mask, startsBase, resultBase, shape);
            }
            else
            {
                Parallel.For(0, threads, new ParallelOptions { MaxDegreeOfParallelism = threads }, t =>
                    Range(units * t / threads, units * (t + 1) / threads, sourceBase, mask, startsBase, resultBase, shape));
            }
        }

        Interlocked.Increment(ref s_calls);
        return result;
    }

    private readonly record struct Shape(int Length, int Model, int HeadDim, int Heads, bool BFloat16)
    {
        public int ElementSize => BFloat16 ? 2 : 4;
    }

    // Units first..last of (batch row, head) pairs, with scratch of this thread's own.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Range(int first, int last, byte* source, byte* mask, int* starts, byte* result, Shape shape)
    {
        if (first >= last)
            return;
        int length = shape.Length, headDim = shape.HeadDim;
        int padded = (length + 7) & ~7;
        // Key rows and the same keys transposed (headDim × padded each), values (length × headDim), a block of queries
        // (Block × headDim) and of score rows (Block × padded), then the kept keys' positions.
        nuint floats = (nuint)(2 * headDim * padded + length * headDim + Block * headDim + Block * padded);
        float* scratch = (float*)NativeMemory.AlignedAlloc(floats * sizeof(float) + (nuint)length * sizeof(int), 64);
        try
        {
            float* keys = scratch + headDim * padded, values = keys + headDim * padded, query = values + length * headDim, scores = query + Block * headDim;
            int* positions = (int*)(scores + Block * padded);
            int lastRow = -1, count = 0;
            for (int unit = first; unit < last; unit++)
            {
                int row = unit / shape.Heads, head = unit % shape.Heads;
                int start = starts[row], rowLength = starts[row + 1] - start;
                if (rowLength == 0)
                    continue;
                if (row != lastRow)
                {
                    count = KeptKeys(mask is null ? null : mask + (long)row * length, rowLength, positions);
                    lastRow = row;
                }

                Head(source, result, start, rowLength, head, positions, count, scratch, keys, values, query, scores, shape);
            }
        }
        finally
        {
            NativeMemory.AlignedFree(scratch);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static int KeptKeys(byte* mask, int length, int* positions)
    {
        int count = 0;
        for (int j = 0; j < length; j++)
        {
            if (mask is null || mask[j] != 0)
                positions[count++] = j;
        }

        return count;
    }

    /// <summary>Queries computed together, so that each key vector loaded serves several of them.</summary>
    private const int Block = 4;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Head(byte* source, byte* result, int start, int length, int head, int* positions, int count,
        float* keyRows, float* keys, float* values, float* query, float* scores, Shape shape)
    {
        int headDim = shape.HeadDim, model = shape.Model, size = shape.ElementSize;
        long rowStride = 3L * model;   // elements from one token to the next in the packed input
        byte* rowBase = source + (long)start * rowStride * size;
        int padded = (count + 7) & ~7;
        int vectors = padded / 8;
        if (count == 0)
        {
            for (int i = 0; i < length; i++)
            {
                byte* output = result + ((long)(start + i) * model + head * headDim) * size;
                for (int u = 0; u < headDim / 8; u++)
                    BFloat16Lanes.Store(output, 8 * u, Vector256.Create(float.NaN), shape.BFloat16);
            }

            return;
        }

        // The kept keys in float32 rows (zero past the last, up to a multiple of 8), then transposed into columns 8 × 8
        // at a time; their values in float32 rows.
        for (int j = 0; j < count; j++)
        {
            byte* token = rowBase + positions[j] * rowStride * size;
            BFloat16Lanes.ToFloat32(token + (long)(model + head * headDim) * size, keyRows + j * headDim, headDim, shape.BFloat16);
            BFloat16Lanes.ToFloat32(token + (long)(2 * model + head * headDim) * size, values + j * headDim, headDim, shape.BFloat16);
        }

        new Span<float>(keyRows + count * headDim, (padded - count) * headDim).Clear();
        for (int j = 0; j < padded; j += 8)
        {
            for (int c = 0; c < headDim; c += 8)
                PackedWeight.Transpose8(keyRows + j * headDim + c, headDim, keys + c * padded + j, padded);
        }

        float scale = 1f / MathF.Sqrt(headDim);
        var tailKept = Vector256.LessThan(Vector256.Create(0, 1, 2, 3, 4, 5, 6, 7), Vector256.Create(count - (vectors - 1) * 8)).AsSingle();
        var minusInfinity = Vector256.Create(float.NegativeInfinity);
        var allKept = Vector256<float>.AllBitsSet;
        for (int i0 = 0; i0 < length; i0 += Block)
        {
            int rows = Math.Min(Block, length - i0);
            // Queries scaled by 1/√d; a short last block repeats its last query (its results are not stored).
            for (int r = 0; r < Block; r++)
            {
                int i = i0 + Math.Min(r, rows - 1);
                BFloat16Lanes.ToFloat32(rowBase + (i * rowStride + head * headDim) * size, query + r * headDim, headDim, shape.BFloat16, scale);
            }

            Scores(query, keys, scores, headDim, padded, vectors, tailKept, minusInfinity);

            // Softmax of the block's rows, unnormalised (the normalisation goes with the weighted sum); the four rows
            // side by side, so that their exponentials' dependency chains overlap.
            float* line0 = scores, line1 = scores + padded, line2 = scores + 2 * padded, line3 = scores + 3 * padded;
            Vector256<float> m0 = minusInfinity, m1 = minusInfinity, m2 = minusInfinity, m3 = minusInfinity;
            for (int v = 0; v < padded; v += 8)
            {
                m0 = Vector256.Max(m0, Vector256.Load(line0 + v));
                m1 = Vector256.Max(m1, Vector256.Load(line1 + v));
                m2 = Vector256.Max(m2, Vector256.Load(line2 + v));
                m3 = Vector256.Max(m3, Vector256.Load(line3 + v));
            }

            Vector256<float> s0 = Vector256.Create(HorizontalMax(m0)), s1 = Vector256.Create(HorizontalMax(m1));
            Vector256<float> s2 = Vector256.Create(HorizontalMax(m2)), s3 = Vector256.Create(HorizontalMax(m3));
            Vector256<float> t0 = default, t1 = default, t2 = default, t3 = default;
            for (int v = 0; v < padded; v += 8)
            {
                var kept = v + 8 < padded ? allKept : tailKept;
                var e0 = Vector256.ConditionalSelect(kept, Exp(Vector256.Load(line0 + v) - s0), Vector256<float>.Zero);
                var e1 = Vector256.ConditionalSelect(kept, Exp(Vector256.Load(line1 + v) - s1), Vector256<float>.Zero);
                var e2 = Vector256.ConditionalSelect(kept, Exp(Vector256.Load(line2 + v) - s2), Vector256<float>.Zero);
                var e3 = Vector256.ConditionalSelect(kept, Exp(Vector256.Load(line3 + v) - s3), Vector256<float>.Zero);
                e0.Store(line0 + v);
                e1.Store(line1 + v);
                e2.Store(line2 + v);
                e3.Store(line3 + v);
                t0 += e0;
                t1 += e1;
                t2 += e2;
                t3 += e3;
            }

            Span<float> inverses = [1f / Vector256.Sum(t0), 1f / Vector256.Sum(t1), 1f / Vector256.Sum(t2), 1f / Vector256.Sum(t3)];
            int next = 0;
            for (; next + 1 < rows && headDim % 32 == 0; next += 2)
            {
                byte* output = result + ((long)(start + i0 + next) * model + head * headDim) * size;
                WeightedValuePair(scores + next * padded, scores + (next + 1) * padded, values, count, headDim,
                    output, output + (long)model * size, inverses[next], inverses[next + 1], shape.BFloat16);
            }

            for (; next < rows; next++)
            {
                byte* output = result + ((long)(start + i0 + next) * model + head * headDim) * size;
                WeightedValues(scores + next * padded, values, count, headDim, output, inverses[next], shape.BFloat16);
            }
        }
    }

    // scores[r, j] = Σ_c q[r, c] · k[c, j] for the Block queries; keys past the last kept one get −∞.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Scores(float* query, float* keys, float* scores, int headDim, int padded, int vectors,
        Vector256<float> tailKept, Vector256<float> minusInfinity)
    {
        float* q0 = query, q1 = query + headDim, q2 = query + 2 * headDim, q3 = query + 3 * headDim;
        int v = 0;
        // Sixteen keys at a time: each query element broadcast serves two key vectors, so that the loads (two keys and
        // four broadcasts) stay below the eight FMAs' issue time; eight independent chains hide the FMA latency.
        for (; v + 1 < vectors; v += 2)
        {
            Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default;
            Vector256<float> b0 = default, b1 = default, b2 = default, b3 = default;
            float* column = keys + v * 8;
            for (int c = 0; c < headDim; c++)
            {
                var k0 = Vector256.Load(column + c * padded);
                var k1 = Vector256.Load(column + c * padded + 8);
                var x0 = Vector256.Create(q0[c]);
                var x1 = Vector256.Create(q1[c]);
                var x2 = Vector256.Create(q2[c]);
                var x3 = Vector256.Create(q3[c]);
                a0 = Vector256.FusedMultiplyAdd(x0, k0, a0);
                a1 = Vector256.FusedMultiplyAdd(x1, k0, a1);
                a2 = Vector256.FusedMultiplyAdd(x2, k0, a2);
                a3 = Vector256.FusedMultiplyAdd(x3, k0, a3);
                b0 = Vector256.FusedMultiplyAdd(x0, k1, b0);
                b1 = Vector256.FusedMultiplyAdd(x1, k1, b1);
                b2 = Vector256.FusedMultiplyAdd(x2, k1, b2);
                b3 = Vector256.FusedMultiplyAdd(x3, k1, b3);
            }

            StoreScores(scores + v * 8, padded, a0, a1, a2, a3, last: false, tailKept, minusInfinity);
            StoreScores(scores + v * 8 + 8, padded, b0, b1, b2, b3, last: v + 1 == vectors - 1, tailKept, minusInfinity);
        }

        for (; v < vectors; v++)
        {
            // Two partial sums per query (even and odd c), so that eight independent chains hide the FMA latency.
            Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default;
            Vector256<float> b0 = default, b1 = default, b2 = default, b3 = default;
            float* column = keys + v * 8;
            for (int c = 0; c < headDim; c += 2)
            {
                var k0 = Vector256.Load(column + c * padded);
                var k1 = Vector256.Load(column + (c + 1) * padded);
                a0 = Vector256.FusedMultiplyAdd(Vector256.Create(q0[c]), k0, a0);
                a1 = Vector256.FusedMultiplyAdd(Vector256.Create(q1[c]), k0, a1);
                a2 = Vector256.FusedMultiplyAdd(Vector256.Create(q2[c]), k0, a2);
                a3 = Vector256.FusedMultiplyAdd(Vector256.Create(q3[c]), k0, a3);
                b0 = Vector256.FusedMultiplyAdd(Vector256.Create(q0[c + 1]), k1, b0);
                b1 = Vector256.FusedMultiplyAdd(Vector256.Create(q1[c + 1]), k1, b1);
                b2 = Vector256.FusedMultiplyAdd(Vector256.Create(q2[c + 1]), k1, b2);
                b3 = Vector256.FusedMultiplyAdd(Vector256.Create(q3[c + 1]), k1, b3);
            }

            StoreScores(scores + v * 8, padded, a0 + b0, a1 + b1, a2 + b2, a3 + b3, last: v == vectors - 1, tailKept, minusInfinity);
        }
    }

    // Eight scores of each of the Block rows (rows `padded` apart); in the last vector, keys past the last kept one get −∞.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreScores(float* at, int padded, Vector256<float> a0, Vector256<float> a1, Vector256<float> a2,
        Vector256<float> a3, bool last, Vector256<float> tailKept, Vector256<float> minusInfinity)
    {
        if (last)
        {
            a0 = Vector256.ConditionalSelect(tailKept, a0, minusInfinity);
            a1 = Vector256.ConditionalSelect(tailKept, a1, minusInfinity);
            a2 = Vector256.ConditionalSelect(tailKept, a2, minusInfinity);
            a3 = Vector256.ConditionalSelect(tailKept, a3, minusInfinity);
        }

        a0.Store(at);
        a1.Store(at + padded);
        a2.Store(at + 2 * padded);
        a3.Store(at + 3 * padded);
    }

    // Two query rows' weighted values at once (head sizes that are multiples of 32), so that each value vector loaded
    // serves both: eight accumulators, four vectors of each output.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void WeightedValuePair(float* weights0, float* weights1, float* values, int count, int headDim,
        byte* output0, byte* output1, float normalise0, float normalise1, bool bfloat16)
    {
        var norm0 = Vector256.Create(normalise0);
        var norm1 = Vector256.Create(normalise1);
        for (int u = 0; u < headDim / 8; u += 4)
        {
            Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default;
            Vector256<float> b0 = default, b1 = default, b2 = default, b3 = default;
            float* value = values + u * 8;
            for (int j = 0; j < count; j++, value += headDim)
            {
                var v0 = Vector256.Load(value);
                var v1 = Vector256.Load(value + 8);
                var v2 = Vector256.Load(value + 16);
                var v3 = Vector256.Load(value + 24);
                var w0 = Vector256.Create(weights0[j]);
                var w1 = Vector256.Create(weights1[j]);
                a0 = Vector256.FusedMultiplyAdd(w0, v0, a0);
                a1 = Vector256.FusedMultiplyAdd(w0, v1, a1);
                a2 = Vector256.FusedMultiplyAdd(w0, v2, a2);
                a3 = Vector256.FusedMultiplyAdd(w0, v3, a3);
                b0 = Vector256.FusedMultiplyAdd(w1, v0, b0);
                b1 = Vector256.FusedMultiplyAdd(w1, v1, b1);
                b2 = Vector256.FusedMultiplyAdd(w1, v2, b2);
                b3 = Vector256.FusedMultiplyAdd(w1, v3, b3);
            }

            BFloat16Lanes.Store(output0, 8 * u, a0 * norm0, bfloat16);
            BFloat16Lanes.Store(output0, 8 * (u + 1), a1 * norm0, bfloat16);
            BFloat16Lanes.Store(output0, 8 * (u + 2), a2 * norm0, bfloat16);
            BFloat16Lanes.Store(output0, 8 * (u + 3), a3 * norm0, bfloat16);
            BFloat16Lanes.Store(output1, 8 * u, b0 * norm1, bfloat16);
            BFloat16Lanes.Store(output1, 8 * (u + 1), b1 * norm1, bfloat16);
            BFloat16Lanes.Store(output1, 8 * (u + 2), b2 * norm1, bfloat16);
            BFloat16Lanes.Store(output1, 8 * (u + 3), b3 * norm1, bfloat16);
        }
    }

    // output = norm · Σ_j p_j · v_j over the kept keys, four vectors of it at a time in registers.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void WeightedValues(float* weights, float* values, int count, int headDim, byte* output, float normalise, bool bfloat16)
    {
        int columns = headDim / 8;
        var norm = Vector256.Create(normalise);
        for (int u = 0; u < columns; u += 4)
        {
            if (columns - u >= 4)
            {
                // Two partial sums per vector (even and odd keys): eight independent chains.
                Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default;
                Vector256<float> b0 = default, b1 = default, b2 = default, b3 = default;
                float* value = values + u * 8;
                int j = 0;
                for (; j + 1 < count; j += 2, value += 2 * headDim)
                {
                    var w0 = Vector256.Create(weights[j]);
                    var w1 = Vector256.Create(weights[j + 1]);
                    a0 = Vector256.FusedMultiplyAdd(w0, Vector256.Load(value), a0);
                    a1 = Vector256.FusedMultiplyAdd(w0, Vector256.Load(value + 8), a1);
                    a2 = Vector256.FusedMultiplyAdd(w0, Vector256.Load(value + 16), a2);
                    a3 = Vector256.FusedMultiplyAdd(w0, Vector256.Load(value + 24), a3);
                    b0 = Vector256.FusedMultiplyAdd(w1, Vector256.Load(value + headDim), b0);
                    b1 = Vector256.FusedMultiplyAdd(w1, Vector256.Load(value + headDim + 8), b1);
                    b2 = Vector256.FusedMultiplyAdd(w1, Vector256.Load(value + headDim + 16), b2);
                    b3 = Vector256.FusedMultiplyAdd(w1, Vector256.Load(value + headDim + 24), b3);
                }

                if (j < count)
                {
                    var w0 = Vector256.Create(weights[j]);
                    a0 = Vector256.FusedMultiplyAdd(w0, Vector256.Load(value), a0);
                    a1 = Vector256.FusedMultiplyAdd(w0, Vector256.Load(value + 8), a1);
                    a2 = Vector256.FusedMultiplyAdd(w0, Vector256.Load(value + 16), a2);
                    a3 = Vector256.FusedMultiplyAdd(w0, Vector256.Load(value + 24), a3);
                }

                BFloat16Lanes.Store(output, 8 * u, (a0 + b0) * norm, bfloat16);
                BFloat16Lanes.Store(output, 8 * (u + 1), (a1 + b1) * norm, bfloat16);
                BFloat16Lanes.Store(output, 8 * (u + 2), (a2 + b2) * norm, bfloat16);
                BFloat16Lanes.Store(output, 8 * (u + 3), (a3 + b3) * norm, bfloat16);
                continue;
            }

            for (int w = u; w < columns; w++)
            {
                Vector256<float> a = default;
                float* value = values + w * 8;
                for (int j = 0; j < count; j++, value += headDim)
                    a = Vector256.FusedMultiplyAdd(Vector256.Create(weights[j]), Vector256.Load(value), a);
                BFloat16Lanes.Store(output, 8 * w, a * norm, bfloat16);
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float HorizontalMax(Vector256<float> x)
    {
        var m = Avx.Max(x, Avx.Permute2x128(x, x, 0x01));
        m = Avx.Max(m, Avx.Permute(m, 0b01_00_11_10));
        m = Avx.Max(m, Avx.Permute(m, 0b10_11_00_01));
        return m.ToScalar();
    }

    /// <summary>
    /// e^x for x ≤ 0 (scores minus their row's largest), to about 1 ulp: x = n·ln 2 + r with |r| ≤ ln 2 / 2, e^r by
    /// the degree-6 polynomial of Cephes' expf (S. L. Moshier, Cephes Mathematical Library), 2^n into the exponent bits.
    /// Below −87, where e^x is under float32's smallest normal number, it returns e^−87 (≈ 1.6·10⁻³⁸) rather than 0:
    /// against the row's largest weight, 1, that is nothing. Written here rather than <c>Vector256.Exp</c>, whose
    /// generic code stays unoptimised for many calls in a process that keeps compiling new methods.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Exp(Vector256<float> x)
    {
        // vmaxps returns its second operand where either is NaN, so a NaN x stays NaN; the raw instruction also spares
        // the two fix-ups of Vector256.Max's IEEE semantics.
        x = Avx.Max(Vector256.Create(-87f), x);
        var n = Vector256.Floor(Vector256.FusedMultiplyAdd(x, Vector256.Create(1.44269504088896341f), Vector256.Create(0.5f)));
        var r = Vector256.FusedMultiplyAdd(n, Vector256.Create(-0.693359375f), x);
        r = Vector256.FusedMultiplyAdd(n, Vector256.Create(2.12194440e-4f), r);
        var p = Vector256.Create(1.9875691500E-4f);
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(1.3981999507E-3f));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(8.3334519073E-3f));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(4.1665795894E-2f));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(1.6666665459E-1f));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(5.0000001201E-1f));
        p = Vector256.FusedMultiplyAdd(p, r * r, r) + Vector256.Create(1f);
        // n is integral and at least −126 (or NaN, whose p is NaN anyway): the raw truncating conversion suffices.
        var power = Vector256.ShiftLeft(Avx.ConvertToVector256Int32WithTruncation(n) + Vector256.Create(127), 23).AsSingle();
        return p * power;
    }
}
