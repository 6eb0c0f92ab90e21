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
    public void Projecting_in_blocks_gives_the_loss_and_gradients_of_the_full_logits()
    {
        using var scope = NewDisposeScope();
        Seeding.Apply(5);
        const int vocab = 11;
        var hidden = randn(3, 5, 4);                                  // (B, T, D)
        var weight = randn(vocab, 4).requires_grad_(true);            // (V, D)
        var targets = tensor(new long[] { 3, 7, 1, 0, 0, 2, 9, 10, 4, 0, 5, 5, 6, 8, 0 }).reshape(3, 5);
        Tensor Project(Tensor h) => nn.functional.linear(h, weight);

        var full = LabelSmoothedCrossEntropy.Compute(Project(hidden), targets, 0.1, ignoreIndex: 0);
        full.backward();
        float[] fullGradient = weight.grad!.data<float>().ToArray();
        weight.grad!.zero_();
        // 3 rows of 11 floats per block: the 11 unpadded positions take 4 blocks, the last one short.
        var blocked = LabelSmoothedCrossEntropy.ComputeProjected(hidden, Project, targets, vocab, 0.1, ignoreIndex: 0, maxBlockBytes: 3 * vocab * sizeof(float));
        blocked.backward();

        Assert.AreEqual(full.ToDouble(), blocked.ToDouble(), 1e-6);
        float[] blockedGradient = weight.grad!.data<float>().ToArray();
        for (int i = 0; i < fullGradient.Length; i++)
            Assert.AreEqual(fullGradient[i], blockedGradient[i], 1e-6, $"gradient element {i}");
    }

    [TestMethod]
    public void Projecting_only_padding_gives_zero()
    {
        using var scope = NewDisposeScope();
        var loss = LabelSmoothedCrossEntropy.ComputeProjected(randn(2, 3, 4), h => h, zeros(2, 3, dtype: ScalarType.Int64), 4, 0.1, ignoreIndex: 0);
        Assert.AreEqual(0.0, loss.ToDouble());
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
