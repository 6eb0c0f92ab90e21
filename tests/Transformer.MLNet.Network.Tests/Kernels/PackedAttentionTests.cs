using System.Runtime.Intrinsics.X86;
using TorchSharp;
using Transformer.MLNet.Network.Embeddings;
using Transformer.MLNet.Network.Kernels;
using Transformer.MLNet.Network.Modules;
using Transformer.MLNet.Network.Pretrained;
using static TorchSharp.torch;

namespace Transformer.MLNet.Network.Tests.Kernels;

/// <summary>
/// Inference attention from the packed query/key/value projection against libtorch's explicit formula
/// (<see cref="ScaledDotProductAttention.ComputeWithWeights"/>) on the same heads, in float32 and in bfloat16.
/// </summary>
[TestClass]
public sealed class PackedAttentionTests
{
    [TestInitialize]
    public void RequireKernel()
    {
        if (!Avx2.IsSupported || !Fma.IsSupported)
            Assert.Inconclusive("This CPU has no AVX2/FMA: the packed attention kernel is not used here.");
    }

    [TestCleanup]
    public void ResetChoice()
    {
        PackedAttention.Override = null;
        set_num_threads(Environment.ProcessorCount);
    }

    // libtorch's attention of the same heads in float32, merged: (B, T, D).
    private static Tensor Reference(Tensor packed, Tensor? mask, int heads)
    {
        using var wide = packed.to(ScalarType.Float32);
        var (q, k, v) = ScaledDotProductAttention.SplitPacked(wide, heads);
        var (output, weights) = ScaledDotProductAttention.ComputeWithWeights(q, k, v, mask);
        weights.Dispose();
        return ScaledDotProductAttention.MergeHeads(output);
    }

    // Per row of the batch a number of real tokens (padding after them), and every third row also a hole in the middle.
    private static Tensor Mask(int batch, int length, Generator generator)
    {
        var keep = ones(batch, length, ScalarType.Bool);
        for (int b = 0; b < batch; b++)
        {
            int real = 1 + (int)randint(length, [1], generator: generator).item<long>();
            if (real < length)
                keep[b, real..] = tensor(false);
            if (b % 3 == 2 && real > 2)
                keep[b, real / 2] = tensor(false);
        }

        return keep.unsqueeze(1).unsqueeze(1);   // (B, 1, 1, T)
    }

    [TestMethod]
    public void Float32_matches_libtorch_over_lengths_head_sizes_and_masks()
    {
        using var inference = inference_mode();
        var generator = new Generator(5);
        int cases = 0;
        foreach (int length in new[] { 1, 2, 7, 8, 9, 16, 17, 31, 64, PackedAttention.MaxKeys })
            foreach (var (heads, headDim) in new[] { (4, 8), (12, 32), (2, 40), (3, 64) })
            {
                using var scope = NewDisposeScope();
                int batch = 1 + cases++ % 4;
                var packed = randn([batch, length, 3 * heads * headDim], generator: generator) * 2;
                var mask = cases % 4 == 0 ? null : Mask(batch, length, generator);
                Assert.IsTrue(PackedAttention.Applies(packed, mask, heads), $"T={length}, {heads} heads of {headDim}");
                var actual = PackedAttention.Forward(packed, mask, heads);
                var expected = Reference(packed, mask, heads);
                CollectionAssert.AreEqual(expected.shape, actual.shape);
                double error = (actual - expected).abs().max().item<float>();
                Assert.IsLessThanOrEqualTo(2e-5, error, $"T={length}, B={batch}, {heads} heads of {headDim}, mask {mask is not null}");
            }
    }

    [TestMethod]
    public void BFloat16_is_float32_attention_of_the_same_values_rounded_once()
    {
        // The kernel computes in float32 from the exact bfloat16 inputs and rounds the output once, so each output is
        // within half a bfloat16 step (2⁻⁹ relative) of float32 attention of those inputs; 2⁻⁸ leaves room for the
        // float32 arithmetic. libtorch's own bfloat16 path rounds scores and weights too and is several times further off.
        using var inference = inference_mode();
        var generator = new Generator(8);
        foreach (int length in new[] { 3, 14, 24, 46, 100 })
        {
            using var scope = NewDisposeScope();
            var packed = (randn([4, length, 3 * 12 * 32], generator: generator) * 2).to(ScalarType.BFloat16);
            var mask = Mask(4, length, generator);
            var actual = PackedAttention.Forward(packed, mask, 12);
            Assert.AreEqual(ScalarType.BFloat16, actual.dtype);
            var expected = Reference(packed, mask, 12);
            var bound = expected.abs() * Math.Pow(2, -8) + 1e-5;   // plus float32 rounding of sums of terms up to ~8
            var excess = ((actual.to(ScalarType.Float32) - expected).abs() - bound).max().item<float>();
            Assert.IsLessThanOrEqualTo(0.0, excess, $"T={length}: an output is more than 2⁻⁸ relative from float32 attention");

            var (q, k, v) = ScaledDotProductAttention.SplitPacked(packed, 12);
            var libtorch = ScaledDotProductAttention.MergeHeads(ScaledDotProductAttention.Compute(q, k, v, mask)).to(ScalarType.Float32);
            double ours = (actual.to(ScalarType.Float32) - expected).abs().max().item<float>();
            double theirs = (libtorch - expected).abs().max().item<float>();
            Assert.IsLessThanOrEqualTo(theirs, ours, $"T={length}: ours {ours}, libtorch's bfloat16 path {theirs}");
        }
    }

    [TestMethod]
    public void Results_do_not_depend_on_the_thread_count()
    {
        using var inference = inference_mode();
        using var scope = NewDisposeScope();
        var generator = new Generator(3);
        var packed = randn([16, 40, 3 * 12 * 32], generator: generator);   // above the one-thread work limit
        var mask = Mask(16, 40, generator);
        set_num_threads(1);
        var one = PackedAttention.Forward(packed, mask, 12);
        set_num_threads(Math.Max(2, Environment.ProcessorCount));
        var several = PackedAttention.Forward(packed, mask, 12);
        Assert.IsTrue(one.bytes.SequenceEqual(several.bytes), "the heads are shared out between threads but each is computed the same way");
    }

    [TestMethod]
    public void A_query_with_every_key_masked_gets_NaN_as_in_libtorch()
    {
        using var inference = inference_mode();
        using var scope = NewDisposeScope();
        var packed = randn([2, 5, 3 * 2 * 8], generator: new Generator(1));
        var mask = ones(2, 1, 1, 5, ScalarType.Bool);
        mask[1] = tensor(false);
        var actual = PackedAttention.Forward(packed, mask, 2);
        var expected = Reference(packed, mask, 2);
        Assert.IsTrue(actual[1].isnan().all().item<bool>());
        Assert.IsTrue(expected[1].isnan().all().item<bool>());
        Assert.IsLessThanOrEqualTo(2e-5, (actual[0] - expected[0]).abs().max().item<float>());
    }

    [TestMethod]
    public void NaN_and_infinite_inputs_give_libtorchs_NaN_and_infinity_pattern()
    {
        // A damaged value must not vanish into a finite output: a NaN or infinite query, key or value spreads exactly as
        // in libtorch's attention (a query's row, a head's rows, or the outputs that weight that value).
        using var inference = inference_mode();
        foreach (var dtype in new[] { ScalarType.Float32, ScalarType.BFloat16 })
            foreach (var (part, value) in new[] { (0, double.NaN), (1, double.NaN), (2, double.NaN), (0, double.PositiveInfinity), (1, double.NegativeInfinity), (2, double.PositiveInfinity) })
            {
                using var scope = NewDisposeScope();
                var packed = randn([2, 5, 3 * 2 * 8], generator: new Generator(9));
                packed[0, 1, part * 16 + 3] = tensor(value);
                packed = packed.to(dtype);
                var mask = ones(2, 1, 1, 5, ScalarType.Bool);
                var expected = Reference(packed, mask, 2);
                var actual = PackedAttention.Forward(packed, mask, 2).to(ScalarType.Float32);
                string what = $"{dtype}, {value} in part {part}";
                Assert.IsTrue(expected.isnan().equal(actual.isnan()).all().item<bool>(), what);
                Assert.IsTrue(expected.isinf().equal(actual.isinf()).all().item<bool>(), what);
                Assert.IsGreaterThan(0L, expected.isfinite().logical_not().sum().item<long>(), what + ": the reference is not finite somewhere");
            }
    }

    [TestMethod]
    public void Calls_it_cannot_take_are_refused()
    {
        using var scope = NewDisposeScope();
        var packed = randn(2, 6, 3 * 4 * 8);
        var mask = ones(2, 1, 1, 6, ScalarType.Bool);
        using (inference_mode())
        {
            Assert.IsTrue(PackedAttention.Applies(packed, mask, 4));
            Assert.IsFalse(PackedAttention.Applies(packed, mask, 5), "3·D not a multiple of the heads");
            Assert.IsFalse(PackedAttention.Applies(randn(2, 6, 3 * 4 * 6), null, 4), "head size not a multiple of 8");
            Assert.IsFalse(PackedAttention.Applies(packed, ones(2, 1, 1, 6), 4), "additive (float) mask");
            Assert.IsFalse(PackedAttention.Applies(packed, ones(2, 1, 6, 6, ScalarType.Bool), 4), "per-query mask");
            Assert.IsFalse(PackedAttention.Applies(randn(1, PackedAttention.MaxKeys + 1, 3 * 4 * 8), null, 4), "too long");
            Assert.IsFalse(PackedAttention.Applies(packed.to(ScalarType.Float64), mask, 4), "float64");
            Assert.ThrowsExactly<ArgumentException>(() => PackedAttention.Forward(packed, mask, 5));
            PackedAttention.Override = false;
            Assert.IsFalse(PackedAttention.Applies(packed, mask, 4));
        }

        PackedAttention.Override = null;
        using var tracked = packed.clone().requires_grad_(true);
        Assert.IsFalse(PackedAttention.Applies(tracked, mask, 4), "a tensor that needs gradients");
        using (no_grad())
            Assert.IsTrue(PackedAttention.Applies(tracked, mask, 4), "no gradient is recorded under no_grad");
    }

    [TestMethod]
    public void Rows_laid_end_to_end_get_the_attention_of_their_padded_batch_exactly()
    {
        using var inference = inference_mode();
        var generator = new Generator(12);
        int[] lengths = [20, 1, 7, 0, 13, 20, 9];
        foreach (var (type, heads, headDim) in new[] { (ScalarType.Float32, 4, 16), (ScalarType.BFloat16, 12, 32), (ScalarType.Float32, 2, 40) })
        {
            using var scope = NewDisposeScope();
            var packed = randn([lengths.Length, 20, 3 * heads * headDim], generator: generator).to(type);
            var mask = zeros([lengths.Length, 20], ScalarType.Bool);
            for (int r = 0; r < lengths.Length; r++)
                mask[r, ..lengths[r]] = tensor(true);
            // The empty row keeps one key in the padded batch (a row with none is NaN there, and has no output here).
            mask[3, 0] = tensor(true);
            var padded = PackedAttention.Forward(packed, mask.unsqueeze(1).unsqueeze(1), heads);
            var starts = new int[lengths.Length + 1];
            for (int r = 0; r < lengths.Length; r++)
                starts[r + 1] = starts[r] + lengths[r];
            var rows = cat([.. lengths.Select((l, r) => packed[r, ..l])], 0).unsqueeze(0);
            Assert.IsTrue(PackedAttention.TakesSegments(type, heads * headDim, heads, lengths.Max()));
            var laid = PackedAttention.ForwardSegments(rows, starts, heads);
            CollectionAssert.AreEqual(new long[] { 1, starts[^1], heads * headDim }, laid.shape);
            for (int r = 0; r < lengths.Length; r++)
            {
                if (lengths[r] == 0)
                    continue;
                var expected = padded[r, ..lengths[r]].contiguous();
                var actual = laid[0, starts[r]..starts[r + 1]].contiguous();
                Assert.IsTrue(expected.bytes.SequenceEqual(actual.bytes), $"{type}, heads of {headDim}, row {r}");
            }
        }
    }

    [TestMethod]
    public void Row_starts_that_do_not_cover_the_tokens_are_refused()
    {
        using var inference = inference_mode();
        using var scope = NewDisposeScope();
        var rows = randn([1, 10, 3 * 32]);
        Assert.AreEqual(10, PackedAttention.ForwardSegments(rows, [0, 4, 10], 4).shape[1]);
        Assert.Throws<ArgumentException>(() => PackedAttention.ForwardSegments(rows, [1, 4, 10], 4), "not from 0");
        Assert.Throws<ArgumentException>(() => PackedAttention.ForwardSegments(rows, [0, 4, 9], 4), "not to the last token");
        Assert.Throws<ArgumentException>(() => PackedAttention.ForwardSegments(rows, [0, 6, 4, 10], 4), "decreasing");
        Assert.Throws<ArgumentException>(() => PackedAttention.ForwardSegments(rows, [0], 4), "no row");
        Assert.Throws<ArgumentException>(() => PackedAttention.ForwardSegments(randn([2, 5, 96]), [0, 10], 4), "a batch of two");
        Assert.Throws<ArgumentException>(() => PackedAttention.ForwardSegments(randn([1, 200, 96]), [0, 200], 4), "a row beyond MaxKeys");
        Assert.IsFalse(PackedAttention.TakesSegments(ScalarType.Float16, 32, 4, 10), "float16");
        Assert.IsFalse(PackedAttention.TakesSegments(ScalarType.Float32, 36, 4, 10), "heads of 9");
    }

    [TestMethod]
    public void MiniLM_embeddings_are_the_same_with_and_without_the_kernel()
    {
        using var bert = PretrainedBert.LoadMiniLm();
        string[] texts =
        [
            "A man is playing a guitar.", "", "Un hombre toca la guitarra en la calle, y la gente se para a escuchar.",
            string.Join(' ', Enumerable.Repeat("long text", 150)), "東京は日本の首都です。", "ok",
        ];
        foreach (bool bfloat16 in new[] { false, true })
        {
            var options = new SentenceEncoderOptions { BatchSize = 4, Threads = 1, UseBFloat16 = bfloat16 };
            using var encoder = SentenceEncoder.FromPretrained(bert, options, CPU);
            PackedAttention.Override = false;
            var before = encoder.Encode(texts);
            PackedAttention.Override = null;
            long calls = PackedAttention.Calls;
            var after = encoder.Encode(texts);
            Assert.IsGreaterThan(calls, PackedAttention.Calls, "the encoder's attention went through the kernel");
            for (int i = 0; i < texts.Length; i++)
            {
                double cosine = EmbeddingSimilarity.Cosine(before[i], after[i]);
                // float32: the same arithmetic up to rounding order; bfloat16: ours rounds less (see above).
                Assert.IsGreaterThan(bfloat16 ? 0.999 : 0.9999999, cosine, $"text {i}, bfloat16 {bfloat16}");
            }
        }
    }
}
