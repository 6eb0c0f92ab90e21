using Transformer.MLNet.Network.Training;

namespace Transformer.MLNet.Network.TokenClassification;

/// <summary>How <see cref="TokenClassifierTrainer"/> fine-tunes or trains a token classifier; the validation metric is entity micro-F1.</summary>
/// <remarks>Defaults suit fine-tuning a small pretrained encoder on a few thousand sentences (BERT paper, section 5.3
/// and appendix A.3: a few epochs, batch 16–32, warmup 10 %, linear decay).</remarks>
public sealed record TokenClassifierTrainingOptions : TrainingLoopOptions
{
    /// <summary>Creates the fine-tuning defaults: 4 epochs of 16 sentences, learning rate 1e-4, 10 % warmup.</summary>
    public TokenClassifierTrainingOptions()
    {
        Epochs = 4;
        BatchSize = 16;
        WarmupFraction = 0.1;
        ReportEvery = 10;
        Optimization = new TrainingOptions
        {
            LearningRate = 1e-4, Beta2 = 0.999, Epsilon = 1e-8, LabelSmoothing = 0.0, Decay = LearningRateDecay.Linear,
        };
    }

    /// <summary>Keep the token embedding matrix fixed (about half of MiniLM's parameters); never set it when training from scratch.</summary>
    public bool FreezeTokenEmbeddings { get; init; }
}
