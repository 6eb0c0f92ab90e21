using Transformer.MLNet.Network.Embeddings;

namespace Transformer.MLNet.Network.Tests.Embeddings;

/// <summary>
/// Fine-tuning checks before loading or training anything that its validation pairs can be ranked (Spearman's ρ needs
/// at least 2 pairs with different scores) and that its scale keeps the loss finite.
/// </summary>
[TestClass]
[TestCategory("Reliability")]
public sealed class SentenceEncoderTrainerInputTests
{
    private static SentencePairs Pairs(params float[] scores) =>
        new([.. scores.Select((_, i) => $"a sentence {i}")], [.. scores.Select((_, i) => $"another sentence {i}")]) { Scores = scores };

    private static readonly SentenceEncoderTrainingOptions Options = new() { Epochs = 1, BatchSize = 4, MaxTokens = 16, Seed = 1 };

    [TestMethod]
    public void Validation_pairs_that_cannot_be_ranked_are_refused_before_training()
    {
        var train = Pairs(0, 1, 2, 3, 4);

        var error = Assert.ThrowsExactly<ArgumentException>(() => SentenceEncoderTrainer.Fit(null, train, Options, Pairs(3)));
        Assert.AreEqual("validation", error.ParamName);
        StringAssert.Contains(error.Message, "holds 1 scored pair");

        error = Assert.ThrowsExactly<ArgumentException>(() => SentenceEncoderTrainer.Fit(null, train, Options, Pairs(2, 2, 2)));
        Assert.AreEqual("validation", error.ParamName);
        StringAssert.Contains(error.Message, "same score (2)");
    }

    [TestMethod]
    [DataRow(1e308)]
    [DataRow(10001.0)]
    [DataRow(double.PositiveInfinity)]
    [DataRow(double.NaN)]
    [DataRow(-1.0)]
    public void A_scale_outside_its_range_is_refused_naming_scale(double scale)
    {
        var error = Assert.ThrowsExactly<ArgumentException>(() => (Options with { Scale = scale }).Validate());
        Assert.AreEqual(nameof(SentenceEncoderTrainingOptions.Scale), error.ParamName);
        StringAssert.Contains(error.Message, "Scale");
    }

    [TestMethod]
    public void The_largest_scale_is_accepted() => (Options with { Scale = SentenceEncoderTrainingOptions.MaxScale }).Validate();
}
