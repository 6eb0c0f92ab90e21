using Transformer.MLNet.Network.Training;

namespace Transformer.MLNet.Network.Embeddings;

/// <summary>How <see cref="SentenceEncoderTrainer"/> fine-tunes a sentence encoder (a bi-encoder); the validation metric is Spearman's ρ.</summary>
/// <remarks>Defaults follow sentence-transformers' STS fine-tuning recipe: a few epochs of 16 pairs, learning rate
/// 2e-5, 10 % warmup then linear decay, CoSENT with scale 20.</remarks>
public sealed record SentenceEncoderTrainingOptions : TrainingLoopOptions
{
    /// <summary>Creates the defaults: 4 epochs of 16 pairs, learning rate 2e-5, 10 % warmup, CoSENT.</summary>
    public SentenceEncoderTrainingOptions()
    {
        Epochs = 4;
        BatchSize = 16;
        WarmupFraction = 0.1;
        ReportEvery = 20;
        Optimization = new TrainingOptions
        {
            LearningRate = 2e-5, Beta2 = 0.999, Epsilon = 1e-6, LabelSmoothing = 0.0, Decay = LearningRateDecay.Linear,
        };
    }

    /// <summary>The loss (default CoSENT).</summary>
    public SimilarityLoss Loss { get; init; } = SimilarityLoss.CoSent;

    /// <summary>
    /// The largest <see cref="Scale"/>. CoSENT works on differences of scaled cosines, up to 2 × Scale, and masks the
    /// pairs it does not rank with −1e12; multiple-negatives ranking feeds scaled cosines to a float32 softmax. At 1e4 the
    /// scaled values stay eight orders of magnitude inside the mask and far inside float32's range, while a scale of
    /// 1e308 turns them into infinities and the loss into NaN.
    /// </summary>
    internal const double MaxScale = 1e4;

    /// <summary>Multiplier of the cosines in CoSENT and multiple-negatives ranking, in (0, 1e4] (sentence-transformers uses 20).</summary>
    public double Scale { get; init; } = 20;

    /// <summary>Most tokens per sentence, [CLS] and [SEP] included; longer sentences are cut.</summary>
    public int MaxTokens { get; init; } = 128;

    /// <summary>
    /// Keep the token embedding matrix fixed: about half of MiniLM's parameters and much of each update's cost, for
    /// little quality on a few thousand pairs (default false, as sentence-transformers trains every weight).
    /// </summary>
    public bool FreezeTokenEmbeddings { get; init; }

    /// <inheritdoc/>
    public override void Validate()
    {
        base.Validate();
        Require(Enum.IsDefined(Loss), nameof(Loss), Loss, "must be CoSent, Cosine or MultipleNegativesRanking");
        Require(Scale > 0 && Scale <= MaxScale, nameof(Scale), Scale,
            $"must be a positive number no greater than {MaxScale} (sentence-transformers uses 20); the loss multiplies cosines by it");
        Require(MaxTokens >= 2, nameof(MaxTokens), MaxTokens, "must be at least 2 ([CLS] and [SEP])");
        Require(Loss != SimilarityLoss.MultipleNegativesRanking || BatchSize >= 2, nameof(BatchSize), BatchSize,
            "must be at least 2 with multiple-negatives ranking, whose negatives are the batch's other pairs");
    }
}
