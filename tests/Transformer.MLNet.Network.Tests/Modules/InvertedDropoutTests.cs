using TorchSharp;
using Transformer.MLNet.Network.Modules;
using Transformer.MLNet.Network.Training;
using static TorchSharp.torch;

namespace Transformer.MLNet.Network.Tests.Modules;

/// <summary>
/// The CPU dropout against what dropout must be (Srivastava et al. 2014, and libtorch's <c>dropout</c> that it replaces
/// on the CPU): each element zeroed independently with probability p, the rest scaled by exactly 1/(1 − p), gradients
/// through the same mask, repeatable under a seed.
/// </summary>
[TestClass]
public sealed class InvertedDropoutTests
{
    private const int Elements = 1_000_003;                 // not a multiple of any vector width: the scalar tail runs too

    [TestMethod]
    [DataRow(0.1)]
    [DataRow(0.5)]
    [DataRow(0.9)]
    public void Drops_the_given_fraction_and_scales_the_rest_exactly(double p)
    {
        using var scope = NewDisposeScope();
        Seeding.Apply(1);
        var x = ones(Elements);
        var y = InvertedDropout.Apply(x, p).data<float>().ToArray();
        double dropped = y.Count(v => v == 0) / (double)Elements;
        // Binomial standard deviation √(p(1−p)/n) ≤ 5e-4; six of them.
        Assert.AreEqual(p, dropped, 3e-3, $"dropped fraction at p = {p}");
        float scale = (float)(1 / (1 - p));
        Assert.IsTrue(y.All(v => v == 0 || v == scale), $"kept values are exactly 1/(1 − p) = {scale}");
        Assert.AreEqual(1.0, y.Average(v => (double)v), 0.02, "the mean is unchanged in expectation");
    }

    [TestMethod]
    public void Decisions_are_independent_across_neighbours_vector_lanes_and_calls()
    {
        using var scope = NewDisposeScope();
        Seeding.Apply(2);
        const double p = 0.3;
        var a = InvertedDropout.Apply(ones(Elements), p).data<float>().Select(v => v == 0 ? 1.0 : 0.0).ToArray();
        var b = InvertedDropout.Apply(ones(Elements), p).data<float>().Select(v => v == 0 ? 1.0 : 0.0).ToArray();
        Assert.IsLessThan(0.01, Math.Abs(Correlation(a.AsSpan(0, Elements - 1), a.AsSpan(1))), "neighbouring elements");
        Assert.IsLessThan(0.01, Math.Abs(Correlation(a.AsSpan(0, Elements - 16), a.AsSpan(16))), "elements a vector register apart");
        Assert.IsLessThan(0.01, Math.Abs(Correlation(a, b)), "two successive calls");
        for (int lane = 0; lane < 16; lane++)
        {
            double rate = Enumerable.Range(0, Elements / 16).Average(i => a[i * 16 + lane]);
            Assert.AreEqual(p, rate, 0.01, $"position {lane} of 16");
        }
    }

    [TestMethod]
    public void A_seed_repeats_the_mask_whatever_the_thread_count()
    {
        using var scope = NewDisposeScope();
        Seeding.Apply(7);
        var first = InvertedDropout.Apply(ones(300_000), 0.2).data<float>().ToArray();
        var next = InvertedDropout.Apply(ones(300_000), 0.2).data<float>().ToArray();
        int threads = get_num_threads();
        try
        {
            set_num_threads(1);
            Seeding.Apply(7);
            var again = InvertedDropout.Apply(ones(300_000), 0.2).data<float>().ToArray();
            CollectionAssert.AreEqual(first, again, "same seed, one thread instead of several");
        }
        finally
        {
            set_num_threads(threads);
        }

        CollectionAssert.AreNotEqual(first, next, "the generator moves on between calls");
    }

    [TestMethod]
    public void Gradients_flow_through_the_same_mask_in_and_out_of_place()
    {
        using var scope = NewDisposeScope();
        Seeding.Apply(3);
        var x = randn(64, 33).requires_grad_();
        var upstream = randn(64, 33);
        var y = InvertedDropout.Apply(x, 0.25);
        y.backward([upstream]);
        var kept = y.ne(0);
        var expected = upstream * kept.to_type(ScalarType.Float32) * (1 / 0.75);
        Assert.IsLessThan(1e-6, (x.grad! - expected).abs().max().ToDouble());
        Assert.IsLessThan(1e-6, (y - x.detach() * kept.to_type(ScalarType.Float32) / 0.75).abs().max().ToDouble());

        // In place on an intermediate result, as the residual connections use it.
        var w = randn(64, 33).requires_grad_();
        var h = w * 2;
        InvertedDropout.ApplyInPlace(h, 0.25);
        h.backward([upstream]);
        var keptInPlace = h.ne(0).to_type(ScalarType.Float32);
        Assert.IsLessThan(1e-5, (w.grad! - upstream * keptInPlace * (2 / 0.75)).abs().max().ToDouble());
    }

    [TestMethod]
    public void The_layer_is_identity_outside_training_and_keeps_bfloat16()
    {
        using var scope = NewDisposeScope();
        using var layer = new InvertedDropout(0.4);
        var x = randn(10_000);
        layer.eval();
        Assert.IsTrue(layer.forward(x).eq(x).all().ToBoolean());
        layer.train();
        var dropped = layer.forward(x);
        Assert.AreEqual(0.4, dropped.eq(0).to_type(ScalarType.Float32).mean().ToDouble(), 0.03);

        var half = InvertedDropout.Apply(ones(10_000, dtype: ScalarType.BFloat16), 0.5);
        Assert.AreEqual(ScalarType.BFloat16, half.dtype);
        Assert.AreEqual(0.5, half.eq(0).to_type(ScalarType.Float32).mean().ToDouble(), 0.03);
        Assert.AreEqual(2.0, half.max().ToDouble());
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => new InvertedDropout(1.0));
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => new InvertedDropout(double.NaN));
    }

    [TestMethod]
    public void Attention_with_dropout_is_unbiased_and_matches_the_fused_kernel_without_it()
    {
        using var scope = NewDisposeScope();
        Seeding.Apply(4);
        var q = randn(2, 3, 5, 8);
        var k = randn(2, 3, 7, 8);
        var v = randn(2, 3, 7, 8);
        var keyMask = tensor(new[] { true, true, true, true, true, true, false, true, true, true, true, false, false, false }).reshape(2, 1, 1, 7);
        var exact = ScaledDotProductAttention.Compute(q, k, v, keyMask);
        // Average of many dropout draws: attention weights are dropped and rescaled, so the mean output tends to the
        // output without dropout (standard error here about 0.01).
        var sum = zeros_like(exact);
        const int Draws = 4000;
        for (int i = 0; i < Draws; i++)
        {
            using var draw = NewDisposeScope();
            sum.add_(ScaledDotProductAttention.Compute(q, k, v, keyMask, dropout: 0.3));
        }

        Assert.IsLessThan(0.06, (sum / Draws - exact).abs().max().ToDouble());
    }

    private static double Correlation(ReadOnlySpan<double> a, ReadOnlySpan<double> b)
    {
        double meanA = 0, meanB = 0;
        for (int i = 0; i < a.Length; i++)
        {
            meanA += a[i];
            meanB += b[i];
        }

        meanA /= a.Length;
        meanB /= b.Length;
        double covariance = 0, varianceA = 0, varianceB = 0;
        for (int i = 0; i < a.Length; i++)
        {
            covariance += (a[i] - meanA) * (b[i] - meanB);
            varianceA += (a[i] - meanA) * (a[i] - meanA);
            varianceB += (b[i] - meanB) * (b[i] - meanB);
        }

        return covariance / Math.Sqrt(varianceA * varianceB);
    }
}
