using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Transformer.MLNet.Network.Kernels;

/// <summary>
/// A float32 matrix product <c>C = op(A)·op(B) (+ bias per column)</c> written with 512-bit vectors, for CPUs where
/// libtorch's BLAS leaves half of the FMA width unused.
/// </summary>
/// <remarks>
/// <para>Why: libtorch's CPU matmul calls MKL, whose AVX-512 kernels run on Intel processors only; on AMD processors
/// with full-width AVX-512 (Zen 4, Zen 5) it takes its AVX2 path and reaches at most half of the FMA units' rate. This
/// kernel uses the 512-bit FMA there, and the linear projections use it only where a one-time measurement found it
/// faster than libtorch's matmul on the same shapes.</para>
/// <para>How: the layout of Goto and van de Geijn ("Anatomy of High-Performance Matrix Multiplication", ACM TOMS 34(3),
/// 2008) as in BLIS: for each block of <see cref="KC"/> steps of the inner dimension, A is packed into row panels of
/// <see cref="MR"/> rows and B into column panels of <see cref="NR"/> columns (zero-padded at the edges), and a
/// micro-kernel keeps an MR×NR tile of C in 24 vector registers while it streams one A panel and one B panel. The B
/// panel (KC·NR floats, 24 KB) stays in the L1 cache while the kernel walks down the A panels; A is packed in blocks of
/// <see cref="MC"/> rows (L2) and B in blocks of <see cref="NC"/> columns, which bounds the packing space. Panels whose
/// memory already has the packed layout are read in place. Threads split C by column or by row panels (see
/// <see cref="Multiply"/>).</para>
/// <para>Results agree with a BLAS product to float32 rounding: each element is a sum of the same products, added in
/// a different order.</para>
/// </remarks>
internal static unsafe class Gemm
{
    /// <summary>Rows of a micro-tile (one broadcast each per step).</summary>
    internal const int MR = 12;

    /// <summary>Columns of a micro-tile (two 16-float vectors).</summary>
    internal const int NR = 32;

    /// <summary>Inner-dimension steps per packed block: the B panel (KC × NR floats) fits half of a 48 KB L1 cache.</summary>
    internal const int KC = 192;

    /// <summary>Rows per packed A block (MC × KC floats, 288 KB: within a core's L2 cache).</summary>
    internal const int MC = 32 * MR;

    /// <summary>Columns per packed B block (KC × NC floats, 3 MB).</summary>
    internal const int NC = 128 * NR;

    /// <summary>An operand: a pointer, its row stride (in floats) and whether it is used transposed.</summary>
    internal readonly struct Operand(float* data, long stride, bool transposed)
    {
        public float* Data { get; } = data;

        public long Stride { get; } = stride;

        public bool Transposed { get; } = transposed;

        /// <summary>Element (row, column) of op(X).</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public float* At(long row, long column) => Transposed ? Data + column * Stride + row : Data + row * Stride + column;
    }

    private static readonly ConcurrentBag<Buffer> Buffers = [];

    /// <summary>
    /// <c>C[m×n] = op(A)[m×k] · op(B)[k×n] + bias[n]</c> (bias optional); C is row-major with row stride
    /// <paramref name="ldc"/>. With <paramref name="accumulate"/>, the product is added to C instead.
    /// </summary>
    /// <param name="m">Rows of C and of op(A).</param>
    /// <param name="n">Columns of C and of op(B).</param>
    /// <param name="k">Columns of op(A), rows of op(B).</param>
    /// <param name="a">The left operand.</param>
    /// <param name="b">The right operand.</param>
    /// <param name="c">The result, row-major.</param>
    /// <param name="ldc">Row stride of C in floats.</param>
    /// <param name="bias">n floats added to every row, or null.</param>
    /// <param name="accumulate">Add the product to C's contents instead of overwriting them.</param>
    /// <param name="threads">Threads to spread the work over (1: the calling thread only).</param>
    public static void Multiply(int m, int n, int k, Operand a, Operand b, float* c, long ldc, float* bias,
        bool accumulate, int threads)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(m);
        ArgumentOutOfRangeException.ThrowIfNegative(n);
        ArgumentOutOfRangeException.ThrowIfNegative(k);
        if (m == 0 || n == 0)
            return;
        if (k == 0)
        {
            for (long i = 0; i < m; i++)
                for (long j = 0; j < n; j++)
                    c[i * ldc + j] = (accumulate ? c[i * ldc + j] : 0f) + (bias is null ? 0f : bias[j]);
            return;
        }

        int rowPanels = (m + MR - 1) / MR, columnPanels = (n + NR - 1) / NR;
        threads = Math.Max(1, Math.Min(threads, Math.Max(rowPanels, columnPanels)));
        if (threads == 1)
        {
            Share(0, rowPanels, 0, columnPanels, m, n, k, a, b, c, ldc, bias, accumulate);
            return;
        }

        // One fork per product: each thread takes a contiguous range of column panels or of row panels, packs its own
        // panels of that operand and the whole block of the other, with no barrier between the threads. The shared
        // operand is the one read in place where there is one (a transposed A, a plain B), else the smaller one (A when
        // m ≤ n), packed by both threads; unless one side has too few panels to share.
        bool byColumns;
        if (columnPanels < 2 * threads || rowPanels < 2 * threads)
            byColumns = columnPanels >= rowPanels;
        else if (a.Transposed != b.Transposed)
            byColumns = a.Transposed;          // the operand read in place is the one shared: nothing packed twice
        else
            byColumns = m <= n;
        int units = byColumns ? columnPanels : rowPanels;
        Parallel.For(0, threads, new ParallelOptions { MaxDegreeOfParallelism = threads }, t =>
        {
            int first = (int)((long)units * t / threads), last = (int)((long)units * (t + 1) / threads);
            if (byColumns)
                Share(0, rowPanels, first, last, m, n, k, a, b, c, ldc, bias, accumulate);
            else
                Share(first, last, 0, columnPanels, m, n, k, a, b, c, ldc, bias, accumulate);
        });
    }

    // One thread's share: row panels [rowPanel0, rowPanel1) × column panels [columnPanel0, columnPanel1) of C.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]   // fully optimised from the first call (no tier-0 code)
    private static void Share(int rowPanel0, int rowPanel1, int columnPanel0, int columnPanel1, int m, int n, int k,
        Operand a, Operand b, float* c, long ldc, float* bias, bool accumulate)
    {
        if (rowPanel0 >= rowPanel1 || columnPanel0 >= columnPanel1)
            return;
        int blockDepth = Math.Min(KC, k);
        int rowBlock = Math.Min(MC / MR, rowPanel1 - rowPanel0), columnBlock = Math.Min(NC / NR, columnPanel1 - columnPanel0);
        var buffer = Rent((long)rowBlock * MR * blockDepth, (long)columnBlock * NR * blockDepth);
        try
        {
            // Blocks of at most NC columns (their packed B block, KC × NC, stays in the shared cache), KC inner steps
            // and MC rows (the packed A block, MC × KC, stays in this core's L2): the packing space is bounded whatever
            // the operands' sizes.
            for (int columns0 = columnPanel0; columns0 < columnPanel1; columns0 += columnBlock)
            {
                int columns1 = Math.Min(columns0 + columnBlock, columnPanel1);
                for (int depth0 = 0; depth0 < k; depth0 += KC)
                {
                    int depth = Math.Min(KC, k - depth0);
                    for (int jp = columns0; jp < columns1; jp++)
                    {
                        int column0 = jp * NR, columns = Math.Min(NR, n - column0);
                        if (!DirectB(b, columns))
                            PackB(b, column0, columns, depth0, depth, buffer.B + (long)(jp - columns0) * NR * depth);
                    }
                    for (int rows0 = rowPanel0; rows0 < rowPanel1; rows0 += rowBlock)
                    {
                        int rows1 = Math.Min(rows0 + rowBlock, rowPanel1);
                        for (int ip = rows0; ip < rows1; ip++)
                        {
                            int row0 = ip * MR, rows = Math.Min(MR, m - row0);
                            if (!DirectA(a, rows))
                                PackA(a, row0, rows, depth0, depth, buffer.A + (long)(ip - rows0) * MR * depth);
                        }
                        Tiles(rows0, rows1, columns0, columns1, m, n, depth0, depth, a, b, buffer.A, buffer.B, c, ldc,
                            depth0 == 0 ? bias : null, accumulate || depth0 > 0);
                    }
                }
            }
        }
        finally
        {
            Buffers.Add(buffer);
        }
    }

    // Row panel: rows [row0, row0 + rows) of op(A) for inner steps [depth0, depth0 + depth), as depth × MR floats.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]   // fully optimised from the first call (no tier-0 code)
    private static void PackA(Operand a, int row0, int rows, int depth0, int depth, float* target)
    {
        if (!a.Transposed)
        {
            // Rows of A are contiguous along the inner dimension: transpose 16 steps at a time in registers (with
            // zero rows beyond the panel's), keep each step's MR rows; the rest element by element.
            int p0 = 0;
            if (rows == MR && Vector512.IsHardwareAccelerated)
            {
                float* block = stackalloc float[16 * 16];
                for (; p0 + 16 <= depth; p0 += 16)
                {
                    Transpose16(a.At(row0, depth0 + p0), a.Stride, MR, block, 16);
                    for (int p = 0; p < 16; p++)
                    {
                        Vector256.Store(Vector256.Load(block + p * 16), target + (p0 + p) * MR);
                        Vector128.Store(Vector128.Load(block + p * 16 + 8), target + (p0 + p) * MR + 8);
                    }
                }
            }
            TransposeRest(a.At(row0, depth0), a.Stride, rows, MR, p0, depth, target);
            return;
        }

        // Transposed A: the MR rows of one inner step are contiguous in memory.
        for (int p = 0; p < depth; p++)
        {
            float* source = a.At(row0, depth0 + p);
            float* destination = target + p * MR;
            int r = 0;
            for (; r < rows; r++)
                destination[r] = source[r];
            for (; r < MR; r++)
                destination[r] = 0f;
        }
    }

    // Column panel: columns [column0, column0 + columns) of op(B) for inner steps [depth0, depth0 + depth), as
    // depth × NR floats.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]   // fully optimised from the first call (no tier-0 code)
    private static void PackB(Operand b, int column0, int columns, int depth0, int depth, float* target)
    {
        if (!b.Transposed)
        {
            // Rows of B are contiguous along the columns: one or two vector copies per inner step.
            for (int p = 0; p < depth; p++)
            {
                float* source = b.At(depth0 + p, column0);
                float* destination = target + p * NR;
                if (columns == NR)
                {
                    Vector512.Store(Vector512.Load(source), destination);
                    Vector512.Store(Vector512.Load(source + 16), destination + 16);
                }
                else
                {
                    int j = 0;
                    for (; j < columns; j++)
                        destination[j] = source[j];
                    for (; j < NR; j++)
                        destination[j] = 0f;
                }
            }
            return;
        }

        // Transposed B (a weight matrix used as Wᵀ): each column of op(B) is a contiguous row of memory. Full
        // 16 × 16 blocks are transposed in registers; the rest element by element.
        int p0 = 0;
        if (columns == NR && Vector512.IsHardwareAccelerated)
        {
            for (; p0 + 16 <= depth; p0 += 16)
            {
                Transpose16(b.At(depth0 + p0, column0), b.Stride, 16, target + p0 * NR, NR);
                Transpose16(b.At(depth0 + p0, column0 + 16), b.Stride, 16, target + p0 * NR + 16, NR);
            }
        }
        TransposeRest(b.At(depth0, column0), b.Stride, columns, NR, p0, depth, target);
    }

    // The element-by-element part of a transposing pack: `lines` memory rows (row l at first + l·stride) become
    // columns l of a panel `width` wide, for steps [p0, depth); the panel's columns from `lines` on are zero throughout.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]   // fully optimised from the first call (no tier-0 code)
    private static void TransposeRest(float* first, long stride, int lines, int width, int p0, int depth, float* target)
    {
        for (int l = 0; l < lines; l++)
        {
            float* source = first + l * stride;
            float* destination = target + l;
            for (int p = p0; p < depth; p++)
                destination[p * width] = source[p];
        }
        for (int l = lines; l < width; l++)
            for (int p = 0; p < depth; p++)
                target[p * width + l] = 0f;
    }

    // Transposes 16 rows of 16 floats (row i at source + i·sourceStride; rows from `rows` on read as zeros) into 16
    // rows at target + c·targetStride, by the recursive block swap: blocks of 8, 4, 2 and 1 columns trade places with
    // their mirror, each stage one two-source permute per row.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Transpose16(float* source, long sourceStride, int rows, float* target, long targetStride)
    {
        var r = stackalloc Vector512<float>[16];
        for (int i = 0; i < 16; i++)
            r[i] = i < rows ? Vector512.Load(source + i * sourceStride) : Vector512<float>.Zero;
        Stage(r, 8, TransposeLow8, TransposeHigh8);
        Stage(r, 4, TransposeLow4, TransposeHigh4);
        Stage(r, 2, TransposeLow2, TransposeHigh2);
        Stage(r, 1, TransposeLow1, TransposeHigh1);
        for (int i = 0; i < 16; i++)
            Vector512.Store(r[i], target + i * targetStride);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Stage(Vector512<float>* r, int half, Vector512<int> low, Vector512<int> high)
    {
        for (int i = 0; i < 16; i++)
        {
            if ((i & half) != 0)
                continue;
            var upper = r[i];
            var lower = r[i + half];
            r[i] = Avx512F.PermuteVar16x32x2(upper, low, lower);
            r[i + half] = Avx512F.PermuteVar16x32x2(upper, high, lower);
        }
    }

    // Index vectors of the transpose stages: element c of the first row of a pair keeps c where bit `half` of c is
    // clear and takes the second row's c − half where it is set (indices ≥ 16 select the second operand); the second
    // row takes the first row's c + half where the bit is clear and keeps its own c where it is set.
    private static readonly Vector512<int> TransposeLow8 = StageIndex(8, low: true), TransposeHigh8 = StageIndex(8, low: false),
        TransposeLow4 = StageIndex(4, low: true), TransposeHigh4 = StageIndex(4, low: false),
        TransposeLow2 = StageIndex(2, low: true), TransposeHigh2 = StageIndex(2, low: false),
        TransposeLow1 = StageIndex(1, low: true), TransposeHigh1 = StageIndex(1, low: false);

    private static Vector512<int> StageIndex(int half, bool low)
    {
        var index = new int[16];
        for (int c = 0; c < 16; c++)
        {
            bool set = (c & half) != 0;
            index[c] = low ? (set ? 16 + c - half : c) : (set ? 16 + c : c + half);
        }
        return Vector512.Create(index);
    }

    // A full row panel of a transposed A already has the packed layout, with a row stride for a step: each inner step's
    // MR rows are contiguous. Likewise a full column panel of a plain B (NR contiguous floats per step). The kernel
    // reads those in place; only the other panels are packed.
    private static bool DirectA(Operand a, int rows) => a.Transposed && rows == MR;

    private static bool DirectB(Operand b, int columns) => !b.Transposed && columns == NR;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]   // fully optimised from the first call (no tier-0 code)
    private static void Tiles(int rowPanel0, int rowPanel1, int columnPanel0, int columnPanel1, int m, int n,
        int depth0, int depth, Operand a, Operand b, float* packedA, float* packedB, float* c, long ldc, float* bias,
        bool accumulate)
    {
        float* edge = stackalloc float[MR * NR];
        float* paddedBias = stackalloc float[NR];
        for (int jp = columnPanel0; jp < columnPanel1; jp++)
        {
            int column0 = jp * NR, columns = Math.Min(NR, n - column0);
            bool directB = DirectB(b, columns);
            float* panelB = directB ? b.At(depth0, column0) : packedB + (long)(jp - columnPanel0) * NR * depth;
            long stepB = directB ? b.Stride : NR;
            float* tileBias = bias is null ? null : bias + column0;
            for (int ip = rowPanel0; ip < rowPanel1; ip++)
            {
                int row0 = ip * MR, rows = Math.Min(MR, m - row0);
                bool directA = DirectA(a, rows);
                float* panelA = directA ? a.At(row0, depth0) : packedA + (long)(ip - rowPanel0) * MR * depth;
                long stepA = directA ? a.Stride : MR;
                float* tile = c + row0 * ldc + column0;
                if (rows == MR && columns == NR)
                {
                    Kernel(depth, panelA, stepA, panelB, stepB, tile, ldc, tileBias, accumulate);
                    continue;
                }

                // Edge tile: compute the whole tile into a scratch tile, then copy (or add) its valid part.
                if (tileBias is not null && columns < NR)
                {
                    // The scratch tile adds the bias vector of NR floats: give it a zero-padded copy.
                    for (int j = 0; j < NR; j++)
                        paddedBias[j] = j < columns ? tileBias[j] : 0f;
                    Kernel(depth, panelA, stepA, panelB, stepB, edge, NR, paddedBias, accumulate: false);
                }
                else
                {
                    Kernel(depth, panelA, stepA, panelB, stepB, edge, NR, tileBias, accumulate: false);
                }
                for (int r = 0; r < rows; r++)
                {
                    float* target = tile + r * ldc, source = edge + r * NR;
                    if (accumulate)
                        for (int j = 0; j < columns; j++)
                            target[j] += source[j];
                    else
                        for (int j = 0; j < columns; j++)
                            target[j] = source[j];
                }
            }
        }
    }

    // C[MR×NR] (+)= Σ_p A[p][0..MR) ⊗ B[p][0..NR) (+ bias), step p at a + p·stepA and b + p·stepB: 24 accumulators,
    // two B vectors, one broadcast.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Kernel(int depth, float* a, long stepA, float* b, long stepB, float* c, long ldc, float* bias,
        bool accumulate)
    {
        Vector512<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default,
            c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default,
            c60 = default, c61 = default, c70 = default, c71 = default, c80 = default, c81 = default,
            c90 = default, c91 = default, ca0 = default, ca1 = default, cb0 = default, cb1 = default;
        for (int p = 0; p < depth; p++)
        {
            var b0 = Vector512.Load(b);
            var b1 = Vector512.Load(b + 16);
            Vector512<float> x;
            x = Vector512.Create(a[0]); c00 = Vector512.FusedMultiplyAdd(x, b0, c00); c01 = Vector512.FusedMultiplyAdd(x, b1, c01);
            x = Vector512.Create(a[1]); c10 = Vector512.FusedMultiplyAdd(x, b0, c10); c11 = Vector512.FusedMultiplyAdd(x, b1, c11);
            x = Vector512.Create(a[2]); c20 = Vector512.FusedMultiplyAdd(x, b0, c20); c21 = Vector512.FusedMultiplyAdd(x, b1, c21);
            x = Vector512.Create(a[3]); c30 = Vector512.FusedMultiplyAdd(x, b0, c30); c31 = Vector512.FusedMultiplyAdd(x, b1, c31);
            x = Vector512.Create(a[4]); c40 = Vector512.FusedMultiplyAdd(x, b0, c40); c41 = Vector512.FusedMultiplyAdd(x, b1, c41);
            x = Vector512.Create(a[5]); c50 = Vector512.FusedMultiplyAdd(x, b0, c50); c51 = Vector512.FusedMultiplyAdd(x, b1, c51);
            x = Vector512.Create(a[6]); c60 = Vector512.FusedMultiplyAdd(x, b0, c60); c61 = Vector512.FusedMultiplyAdd(x, b1, c61);
            x = Vector512.Create(a[7]); c70 = Vector512.FusedMultiplyAdd(x, b0, c70); c71 = Vector512.FusedMultiplyAdd(x, b1, c71);
            x = Vector512.Create(a[8]); c80 = Vector512.FusedMultiplyAdd(x, b0, c80); c81 = Vector512.FusedMultiplyAdd(x, b1, c81);
            x = Vector512.Create(a[9]); c90 = Vector512.FusedMultiplyAdd(x, b0, c90); c91 = Vector512.FusedMultiplyAdd(x, b1, c91);
            x = Vector512.Create(a[10]); ca0 = Vector512.FusedMultiplyAdd(x, b0, ca0); ca1 = Vector512.FusedMultiplyAdd(x, b1, ca1);
            x = Vector512.Create(a[11]); cb0 = Vector512.FusedMultiplyAdd(x, b0, cb0); cb1 = Vector512.FusedMultiplyAdd(x, b1, cb1);
            a += stepA;
            b += stepB;
        }

        Vector512<float> bias0 = Vector512<float>.Zero, bias1 = Vector512<float>.Zero;
        if (bias is not null)
        {
            bias0 = Vector512.Load(bias);
            bias1 = Vector512.Load(bias + 16);
        }
        Store(c, c00 + bias0, c01 + bias1, accumulate); c += ldc;
        Store(c, c10 + bias0, c11 + bias1, accumulate); c += ldc;
        Store(c, c20 + bias0, c21 + bias1, accumulate); c += ldc;
        Store(c, c30 + bias0, c31 + bias1, accumulate); c += ldc;
        Store(c, c40 + bias0, c41 + bias1, accumulate); c += ldc;
        Store(c, c50 + bias0, c51 + bias1, accumulate); c += ldc;
        Store(c, c60 + bias0, c61 + bias1, accumulate); c += ldc;
        Store(c, c70 + bias0, c71 + bias1, accumulate); c += ldc;
        Store(c, c80 + bias0, c81 + bias1, accumulate); c += ldc;
        Store(c, c90 + bias0, c91 + bias1, accumulate); c += ldc;
        Store(c, ca0 + bias0, ca1 + bias1, accumulate); c += ldc;
        Store(c, cb0 + bias0, cb1 + bias1, accumulate);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store(float* c, Vector512<float> v0, Vector512<float> v1, bool accumulate)
    {
        if (accumulate)
        {
            v0 += Vector512.Load(c);
            v1 += Vector512.Load(c + 16);
        }
        Vector512.Store(v0, c);
        Vector512.Store(v1, c + 16);
    }

    private static Buffer Rent(long aFloats, long bFloats)
    {
        if (!Buffers.TryTake(out var buffer))
            buffer = new Buffer();
        buffer.Ensure(aFloats, bFloats);
        return buffer;
    }

    // Packing space, 64-byte aligned, reused across calls (the pool holds one per concurrent caller).
    private sealed class Buffer
    {
        private long _aFloats, _bFloats;

        public float* A { get; private set; }

        public float* B { get; private set; }

        public void Ensure(long aFloats, long bFloats)
        {
            if (aFloats > _aFloats)
            {
                NativeMemory.AlignedFree(A);
                A = (float*)NativeMemory.AlignedAlloc((nuint)(aFloats * sizeof(float)), 64);
                _aFloats = aFloats;
            }
            if (bFloats > _bFloats)
            {
                NativeMemory.AlignedFree(B);
                B = (float*)NativeMemory.AlignedAlloc((nuint)(bFloats * sizeof(float)), 64);
                _bFloats = bFloats;
            }
        }
    }
}
