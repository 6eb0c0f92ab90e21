namespace Transformer.MLNet.Network.Classification;

/// <summary>What a training run did.</summary>
/// <param name="EpochsRun">Epochs completed (fewer than planned after early stopping).</param>
/// <param name="BestEpoch">Epoch whose weights the classifier holds at the end (the last one without validation).</param>
/// <param name="ValidationAccuracies">Validation accuracy after each epoch; empty without a validation set.</param>
/// <param name="TrainingLosses">Mean training loss of each epoch.</param>
public sealed record ClassifierTrainingResult(
    int EpochsRun, int BestEpoch, IReadOnlyList<double> ValidationAccuracies, IReadOnlyList<double> TrainingLosses)
{
    /// <summary>Training texts longer than <see cref="TextClassifierSettings.MaxTokens"/>, cut to fit.</summary>
    public int TruncatedTexts { get; init; }

    /// <summary>Micro-batches dropped for a non-finite loss or gradient (with <see cref="Training.TrainingOptions.SkipNonFiniteBatches"/>).</summary>
    public long SkippedBatches { get; init; }

    /// <summary>Whether the run continued from a checkpoint in <see cref="ClassifierTrainingOptions.CheckpointFolder"/>.</summary>
    public bool Resumed { get; init; }
}
