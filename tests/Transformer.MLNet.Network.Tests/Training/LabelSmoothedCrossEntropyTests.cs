using TorchSharp;
using Transformer.MLNet.Network.Training;
using static TorchSharp.torch;

namespace Transformer.MLNet.Network.Tests.Training;

[TestClass]
public sealed class LabelSmoothedCrossEntropyTests
{
    [TestMethod]
    public void Matches_the_smoothed_target_distribution_and_ignores_padding()
    {
        using var scope = NewDisposeScope();
        Seeding.Apply(3);
        const double epsilon = 0.1;
        var logits = randn(2, 3, 7);                                   // (B, T, V)
        var targets = tensor(new long[] { 1, 4, 0, 6, 0, 2 }).reshape(2, 3);

        double loss = LabelSmoothedCrossEntropy.Compute(logits, targets, epsilon, ignoreIndex: 0).ToDouble();

        // Reference: q = (1 − ε)·onehot + ε/V, loss = −Σ q·log p, averaged over non-pad positions.
        var logProbs = nn.functional.log_softmax(logits, -1).data<float>().ToArray();
        long[] ids = [1, 4, 0, 6, 0, 2];
        double sum = 0;
        int counted = 0;
        for (int n = 0; n < ids.Length; n++)
        {
            if (ids[n] == 0)
                continue;
            double position = 0;
            for (int c = 0; c < 7; c++)
                position -= ((c == ids[n] ? 1 - epsilon : 0) + epsilon / 7) * logProbs[n * 7 + c];
            sum += position;
            counted++;
        }

        Assert.AreEqual(sum / counted, loss, 1e-5);
    }

    [TestMethod]
    public void Bfloat16_logits_are_reduced_in_float32()
    {
        using var scope = NewDisposeScope();
        Seeding.Apply(4);
        var logits = randn(4, 9);
        var targets = tensor(new long[] { 1, 2, 3, 4 });
        var fromBf16 = LabelSmoothedCrossEntropy.Compute(logits.to_type(ScalarType.BFloat16), targets, 0.1);
        Assert.AreEqual(ScalarType.Float32, fromBf16.dtype);
        Assert.AreEqual(LabelSmoothedCrossEntropy.Compute(logits, targets, 0.1).ToDouble(), fromBf16.ToDouble(), 0.02);
    }

    [TestMethod]
    public void Mismatched_shapes_and_bad_smoothing_are_reported()
    {
        using var scope = NewDisposeScope();
        var error = Assert.ThrowsExactly<ArgumentException>(() => LabelSmoothedCrossEntropy.Compute(zeros(2, 3, 5), zeros(2, 4, dtype: ScalarType.Int64), 0.1));
        StringAssert.Contains(error.Message, "[2, 3]");
        error = Assert.ThrowsExactly<ArgumentException>(() => LabelSmoothedCrossEntropy.Compute(zeros(2, 5), zeros(2, dtype: ScalarType.Int64), 1.0));
        StringAssert.Contains(error.Message, "smoothing = 1");
    }
}
