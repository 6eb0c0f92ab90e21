using TorchSharp;
using Transformer.MLNet.Network.Modules;
using Transformer.MLNet.Network.Training;
using static TorchSharp.torch;

namespace Transformer.MLNet.Network.Tests.Modules;

[TestClass]
public sealed class ScaledDotProductAttentionTests
{
    private static (Tensor Q, Tensor K, Tensor V) Heads(long queries, long keys)
    {
        Seeding.Apply(11);
        return (randn(2, 4, queries, 8), randn(2, 4, keys, 8), randn(2, 4, keys, 8));   // (B, h, T, d)
    }

    private static Tensor Padding() => tensor(new[] { false, false, false, false, false, false, false, true, false, false, false, false, false, true, true, true, }).reshape(2, 8);

    [TestMethod]
    public void Weights_sum_to_one_and_padding_keys_get_none()
    {
        using var scope = NewDisposeScope();
        var (q, k, v) = Heads(5, 8);
        var padding = Padding();                                               // (B, T_k), true at padding
        var (_, weights) = ScaledDotProductAttention.ComputeWithWeights(q, k, v, ScaledDotProductAttention.KeyMask(padding));

        CollectionAssert.AreEqual(new long[] { 2, 4, 5, 8 }, weights.shape);
        Assert.IsLessThan(1e-6, (weights.sum(-1) - 1).abs().max().ToDouble());
        var onPadding = weights.masked_select(padding.unsqueeze(1).unsqueeze(1).expand_as(weights));
        Assert.AreEqual(4L * 4 * 5, onPadding.numel(), "padded keys: 1 in row 0, 3 in row 1, over 4 heads and 5 queries");
        Assert.AreEqual(0.0, onPadding.abs().max().ToDouble());
    }

    [TestMethod]
    public void Causal_weights_are_zero_above_the_diagonal_also_with_a_cached_past()
    {
        using var scope = NewDisposeScope();
        var (q, k, v) = Heads(3, 7);                                           // 3 new queries after 4 cached positions
        var (_, weights) = ScaledDotProductAttention.ComputeWithWeights(q, k, v, causal: true);
        for (int i = 0; i < 3; i++)
        {
            Assert.AreEqual(0.0, weights[.., .., i, (5 + i)..].abs().sum().ToDouble(), $"query {i} must not see keys after position {4 + i}");
            Assert.IsGreaterThan(0.0, weights[.., .., i, (4 + i)].min().ToDouble());
        }
    }

    [TestMethod]
    public void Fused_and_explicit_paths_agree()
    {
        using var scope = NewDisposeScope();
        var (q, k, v) = Heads(8, 8);
        var boolMask = ScaledDotProductAttention.KeyMask(Padding());
        var additive = zeros(2, 1, 1, 8).masked_fill(boolMask.logical_not(), -1e9);
        var (q3, k7, v7) = Heads(3, 7);

        var cases = new (string Name, Func<Tensor> Fused, Func<Tensor> Explicit)[]
        {
            ("no mask", () => ScaledDotProductAttention.ComputeFused(q, k, v, null, false, 0), () => ScaledDotProductAttention.ComputeWithWeights(q, k, v).Output),
            ("boolean padding", () => ScaledDotProductAttention.ComputeFused(q, k, v, boolMask, false, 0), () => ScaledDotProductAttention.ComputeWithWeights(q, k, v, boolMask).Output),
            ("additive padding", () => ScaledDotProductAttention.ComputeFused(q, k, v, additive, false, 0), () => ScaledDotProductAttention.ComputeWithWeights(q, k, v, additive).Output),
            ("causal", () => ScaledDotProductAttention.ComputeFused(q, k, v, null, true, 0), () => ScaledDotProductAttention.ComputeWithWeights(q, k, v, causal: true).Output),
            ("causal + padding", () => ScaledDotProductAttention.ComputeFused(q, k, v, boolMask, true, 0), () => ScaledDotProductAttention.ComputeWithWeights(q, k, v, boolMask, causal: true).Output),
            ("causal + additive", () => ScaledDotProductAttention.ComputeFused(q, k, v, additive, true, 0), () => ScaledDotProductAttention.ComputeWithWeights(q, k, v, additive, causal: true).Output),
            ("causal after cached past", () => ScaledDotProductAttention.ComputeFused(q3, k7, v7, null, true, 0), () => ScaledDotProductAttention.ComputeWithWeights(q3, k7, v7, causal: true).Output),
        };
        foreach (var (name, fused, explicitPath) in cases)
        {
            double difference = (fused() - explicitPath()).abs().max().ToDouble();
            Assert.IsLessThanOrEqualTo(1e-5, difference, name);
        }
    }

    [TestMethod]
    public void The_path_rules_and_bfloat16_attention_on_both_paths_match_float32()
    {
        using var scope = NewDisposeScope();
        Assert.IsTrue(ScaledDotProductAttention.PrefersExplicit(zeros(1, 1, 512, 8, ScalarType.BFloat16), zeros(1, 1, 512, 8, ScalarType.BFloat16), 0));
        Assert.IsFalse(ScaledDotProductAttention.PrefersExplicit(zeros(1, 1, 513, 8, ScalarType.BFloat16), zeros(1, 1, 512, 8, ScalarType.BFloat16), 0));
        Assert.IsTrue(ScaledDotProductAttention.PrefersExplicit(zeros(1, 1, 8, 8), zeros(1, 1, 8, 8), 0), "float32 rows under 16 keys: the short-row softmax");
        Assert.IsTrue(ScaledDotProductAttention.PrefersExplicit(zeros(1, 1, 600, 8), zeros(1, 1, 600, 8), 0.1), "dropout at any length");
        int threads = get_num_threads();
        try
        {
            set_num_threads(1);
            Assert.IsFalse(ScaledDotProductAttention.PrefersExplicit(zeros(1, 1, 64, 8), zeros(1, 1, 64, 8), 0), "float32 on one thread keeps the fused kernel");
            set_num_threads(2);
            Assert.IsTrue(ScaledDotProductAttention.PrefersExplicit(zeros(1, 1, 64, 8), zeros(1, 1, 64, 8), 0), "float32 on two threads up to 256 × 256");
            Assert.IsFalse(ScaledDotProductAttention.PrefersExplicit(zeros(1, 1, 257, 8), zeros(1, 1, 256, 8), 0));
        }
        finally
        {
            set_num_threads(threads);
        }

        // Both bfloat16 paths (explicit at 8 × 8, fused at 600 × 600) give float32's output and gradients to bfloat16's precision.
        foreach (long length in new long[] { 8, 600 })
        {
            Seeding.Apply(5);
            var q = randn(1, 2, length, 16); var k = randn(1, 2, length, 16); var v = randn(1, 2, length, 16);
            var upstream = randn(1, 2, length, 16);
            var padding = arange(length).ge(length - 3).unsqueeze(0);          // the last 3 keys are padding
            var mask = ScaledDotProductAttention.KeyMask(padding);

            (Tensor Output, Tensor[] Gradients) Run(ScalarType type)
            {
                var inputs = new[] { q, k, v }.Select(t => t.to(type).detach().requires_grad_(true)).ToArray();
                var output = ScaledDotProductAttention.Compute(inputs[0], inputs[1], inputs[2], mask, causal: true);
                output.backward(new[] { upstream.to(type) });
                return (output.detach().to(ScalarType.Float32), inputs.Select(t => t.grad!.to(ScalarType.Float32)).ToArray());
            }
            var reference = Run(ScalarType.Float32);
            var half = Run(ScalarType.BFloat16);
            Assert.IsLessThan(0.05, (half.Output - reference.Output).abs().max().ToDouble(), $"output at length {length}");
            for (int i = 0; i < 3; i++)
            {
                double scale = reference.Gradients[i].abs().max().ToDouble();
                Assert.IsLessThan(0.05 * scale, (half.Gradients[i] - reference.Gradients[i]).abs().max().ToDouble(), $"gradient {"qkv"[i]} at length {length}");
            }
        }
    }

    [TestMethod]
    public void The_short_row_softmax_matches_libtorch_in_values_and_gradients()
    {
        using var scope = NewDisposeScope();
        foreach (long keys in new long[] { 1, 5, 14, 15, 16, 24, 33, 63, 200 })
        {
            Seeding.Apply((int)keys);
            var scores = randn(3, 4, 7, keys) * 4;
            if (keys > 2)
                scores[.., .., .., ..2] = double.NegativeInfinity;            // masked keys, as attention masks them
            var upstream = randn(3, 4, 7, keys);
            var reference = scores.detach().requires_grad_(true);
            var ours = scores.detach().requires_grad_(true);
            var expected = reference.softmax(-1);
            var actual = ScaledDotProductAttention.Softmax(ours);
            expected.backward(new[] { upstream });
            actual.backward(new[] { upstream });
            Assert.IsLessThan(1e-6, (actual - expected).abs().max().ToDouble(), $"values at {keys} keys");
            Assert.IsLessThan(1e-5, (ours.grad! - reference.grad!).abs().max().ToDouble(), $"gradients at {keys} keys");
            if (keys > 2)
                Assert.AreEqual(0.0, actual[.., .., .., ..2].abs().max().ToDouble(), "masked keys get no weight");

            using (no_grad())
            {
                var half = scores.to(ScalarType.BFloat16);
                var halfExpected = half.softmax(-1).to(ScalarType.Float32);
                var halfActual = ScaledDotProductAttention.Softmax(half);
                Assert.AreEqual(ScalarType.BFloat16, halfActual.dtype);
                Assert.IsLessThan(8e-3, (halfActual.to(ScalarType.Float32) - halfExpected).abs().max().ToDouble(), $"bfloat16 at {keys} keys");
            }
        }
    }

    [TestMethod]
    public void Wrong_shapes_are_reported()
    {
        using var scope = NewDisposeScope();
        var error = Assert.ThrowsExactly<ArgumentException>(() => ScaledDotProductAttention.Compute(zeros(2, 5, 8), zeros(2, 5, 8), zeros(2, 5, 8)));
        StringAssert.Contains(error.Message, "(batch, heads, length, head_dim)");
        error = Assert.ThrowsExactly<ArgumentException>(() => ScaledDotProductAttention.KeyMask(zeros(2, 5)));
        StringAssert.Contains(error.Message, "boolean");
    }
}
