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
}
