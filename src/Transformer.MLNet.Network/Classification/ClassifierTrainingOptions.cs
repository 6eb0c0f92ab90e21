using Transformer.MLNet.Network.Training;

namespace Transformer.MLNet.Network.Classification;

/// <summary>How <see cref="TextClassifierTrainer"/> fine-tunes or trains a classifier.</summary>
/// <remarks>Defaults suit fine-tuning a small pretrained encoder on a few thousand sentences (BERT paper, appendix
/// A.3: a few epochs, batch 16–32, warmup 10 %, linear decay).</remarks>
public sealed record ClassifierTrainingOptions
{
    /// <summary>Passes over the training set.</summary>
    public int Epochs { get; init; } = 4;

    /// <summary>Texts per micro-batch.</summary>
    public int BatchSize { get; init; } = 16;

    /// <summary>Fraction of all updates spent warming the learning rate up.</summary>
    public double WarmupFraction { get; init; } = 0.1;

    /// <summary>
    /// Optimizer, schedule shape, clipping, accumulation, label smoothing and precision; its <see cref="TrainingOptions.WarmupSteps"/>
    /// is replaced by <see cref="WarmupFraction"/> of the run.
    /// </summary>
    public TrainingOptions Optimizer { get; init; } = new()
    {
        LearningRate = 1e-4, Beta2 = 0.999, Epsilon = 1e-8, LabelSmoothing = 0.0, Decay = LearningRateDecay.Linear,
    };

    /// <summary>With a validation set: stop after this many epochs without a better validation accuracy; 0 never stops early.</summary>
    public int EarlyStoppingPatience { get; init; }

    /// <summary>With a validation set: put back the weights of the epoch with the best validation accuracy at the end.</summary>
    public bool RestoreBestEpoch { get; init; } = true;

    /// <summary>
    /// Keep the token embedding matrix fixed. When fine-tuning a pretrained encoder on little data this is about half
    /// the parameters (30522 × 384 for MiniLM-L6) and much of the update cost, for little gain; never set it when
    /// training from scratch.
    /// </summary>
    public bool FreezeTokenEmbeddings { get; init; }

    /// <summary>Seed of weight initialisation, dropout and shuffling.</summary>
    public int Seed { get; init; }

    /// <summary>Report progress every this many updates (and at each epoch's end).</summary>
    public int ProgressInterval { get; init; } = 5;

    /// <summary>Checks the options and throws an error naming the offending option and value.</summary>
    /// <exception cref="ArgumentException">An option is out of range.</exception>
    public ClassifierTrainingOptions Validate()
    {
        static void Require(bool ok, string option, object value, string rule)
        {
            if (!ok)
                throw new ArgumentException($"{option} = {value} is invalid: {rule}.", option);
        }

        Require(Epochs >= 1, nameof(Epochs), Epochs, "must be at least 1");
        Require(BatchSize >= 1, nameof(BatchSize), BatchSize, "must be at least 1");
        Require(WarmupFraction is >= 0 and <= 1, nameof(WarmupFraction), WarmupFraction, "must be in [0, 1]");
        Require(EarlyStoppingPatience >= 0, nameof(EarlyStoppingPatience), EarlyStoppingPatience, "must be zero (off) or more");
        Require(ProgressInterval >= 1, nameof(ProgressInterval), ProgressInterval, "must be at least 1");
        Optimizer.Validate();
        return this;
    }
}
