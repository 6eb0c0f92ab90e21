using Transformer.MLNet.Network.Training;

namespace Transformer.MLNet.Network.Classification;

/// <summary>How <see cref="TextClassifierTrainer"/> fine-tunes or trains a classifier; the validation metric is accuracy.</summary>
/// <remarks>Defaults suit fine-tuning a small pretrained encoder on a few thousand sentences (BERT paper, appendix
/// A.3: a few epochs, batch 16–32, warmup 10 %, linear decay).</remarks>
public sealed record ClassifierTrainingOptions : TrainingLoopOptions
{
    /// <summary>Creates the fine-tuning defaults: 4 epochs of 16 texts, learning rate 1e-4, 10 % warmup.</summary>
    public ClassifierTrainingOptions()
    {
        Epochs = 4;
        BatchSize = 16;
        WarmupFraction = 0.1;
        ReportEvery = 5;
        Optimization = new TrainingOptions
        {
            LearningRate = 1e-4, Beta2 = 0.999, Epsilon = 1e-8, LabelSmoothing = 0.0, Decay = LearningRateDecay.Linear,
        };
    }

    /// <summary>
    /// Keep the token embedding matrix fixed. When fine-tuning a pretrained encoder on little data this is about half
    /// the parameters (30522 × 384 for MiniLM-L6) and much of the update cost, for little gain; never set it when
    /// training from scratch.
    /// </summary>
    public bool FreezeTokenEmbeddings { get; init; }

    /// <summary>
    /// For text pairs whose order carries no meaning (similarity, paraphrase): every epoch trains on each pair in both
    /// orders, (a, b) and (b, a), so that the model scores a pair the same whichever text comes first. Needs pairs.
    /// </summary>
    public bool SymmetricPairs { get; init; }

    /// <summary>
    /// For a regression head on text pairs whose smallest target means "unrelated" (STS ratings: 0 = "completely
    /// dissimilar"): each epoch adds this many random pairings per training pair (the first text of one pair with the
    /// second text of another), labelled with the smallest training target. Pairs of a similarity data set are mostly
    /// on one topic, so a model trained on them alone has never seen the unrelated texts that a reranker must push to
    /// the bottom. 0 (default) adds none; at most 10.
    /// </summary>
    public double UnrelatedPairFraction { get; init; }

    /// <inheritdoc/>
    public override void Validate()
    {
        base.Validate();
        Require(double.IsFinite(UnrelatedPairFraction) && UnrelatedPairFraction is >= 0 and <= 10, nameof(UnrelatedPairFraction),
            UnrelatedPairFraction, "must be between 0 (none) and 10 random pairings per training pair");
    }
}
