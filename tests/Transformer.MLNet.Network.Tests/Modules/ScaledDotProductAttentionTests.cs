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
            ("no mask", () => ScaledDotProductAttention.Compute(q, k, v), () => ScaledDotProductAttention.ComputeWithWeights(q, k, v).Output),
            ("boolean padding", () => ScaledDotProductAttention.Compute(q, k, v, boolMask), () => ScaledDotProductAttention.ComputeWithWeights(q, k, v, boolMask).Output),
            ("additive padding", () => ScaledDotProductAttention.Compute(q, k, v, additive), () => ScaledDotProductAttention.ComputeWithWeights(q, k, v, additive).Output),
            ("causal", () => ScaledDotProductAttention.Compute(q, k, v, causal: true), () => ScaledDotProductAttention.ComputeWithWeights(q, k, v, causal: true).Output),
            ("causal + padding", () => ScaledDotProductAttention.Compute(q, k, v, boolMask, causal: true), () => ScaledDotProductAttention.ComputeWithWeights(q, k, v, boolMask, causal: true).Output),
            ("causal + additive", () => ScaledDotProductAttention.Compute(q, k, v, additive, causal: true), () => ScaledDotProductAttention.ComputeWithWeights(q, k, v, additive, causal: true).Output),
            ("causal after cached past", () => ScaledDotProductAttention.Compute(q3, k7, v7, causal: true), () => ScaledDotProductAttention.ComputeWithWeights(q3, k7, v7, causal: true).Output),
        };
        foreach (var (name, fused, explicitPath) in cases)
        {
            double difference = (fused() - explicitPath()).abs().max().ToDouble();
            Assert.IsLessThanOrEqualTo(1e-5, difference, name);
        }
    }

    [TestMethod]
    public void Bfloat16_attention_takes_the_explicit_path_up_to_512_by_512_and_both_paths_match_float32()
    {
        using var scope = NewDisposeScope();
        Assert.IsTrue(ScaledDotProductAttention.PrefersExplicit(zeros(1, 1, 512, 8, ScalarType.BFloat16), zeros(1, 1, 512, 8, ScalarType.BFloat16), 0));
        Assert.IsFalse(ScaledDotProductAttention.PrefersExplicit(zeros(1, 1, 513, 8, ScalarType.BFloat16), zeros(1, 1, 512, 8, ScalarType.BFloat16), 0));
        Assert.IsFalse(ScaledDotProductAttention.PrefersExplicit(zeros(1, 1, 8, 8), zeros(1, 1, 8, 8), 0), "float32 without dropout keeps the fused kernel");
        Assert.IsTrue(ScaledDotProductAttention.PrefersExplicit(zeros(1, 1, 8, 8), zeros(1, 1, 8, 8), 0.1));

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
    public void Wrong_shapes_are_reported()
    {
        using var scope = NewDisposeScope();
        var error = Assert.ThrowsExactly<ArgumentException>(() => ScaledDotProductAttention.Compute(zeros(2, 5, 8), zeros(2, 5, 8), zeros(2, 5, 8)));
        StringAssert.Contains(error.Message, "(batch, heads, length, head_dim)");
        error = Assert.ThrowsExactly<ArgumentException>(() => ScaledDotProductAttention.KeyMask(zeros(2, 5)));
        StringAssert.Contains(error.Message, "boolean");
    }
}
