namespace Transformer.MLNet.Network.Training;

/// <summary>What a training run did; every trainer returns this record.</summary>
/// <param name="Steps">Parameter updates made.</param>
/// <param name="Epochs">Epochs started (fewer than planned after early stopping, a step limit or the time budget).</param>
/// <param name="BestEpoch">Epoch of the best evaluation, whose weights the model holds; the last epoch without validation.</param>
/// <param name="BestValidationMetric">Best validation metric (see <see cref="TrainingProgress.ValidationMetric"/>); NaN without validation data or when no evaluation gave a finite value.</param>
/// <param name="TrainingLosses">Mean training loss of each epoch (the last one possibly partial).</param>
/// <param name="ValidationMetrics">The validation metric of every evaluation, in order; empty without validation data.</param>
/// <param name="Elapsed">Wall-clock training time.</param>
/// <param name="StopReason">Why training ended: "epochs", "steps", "time budget" or "early stopping".</param>
public sealed record TrainingResult(
    long Steps, int Epochs, int BestEpoch, double BestValidationMetric, IReadOnlyList<double> TrainingLosses,
    IReadOnlyList<double> ValidationMetrics, TimeSpan Elapsed, string StopReason)
{
    /// <summary>Mean training loss of the last report interval.</summary>
    public double LastTrainLoss { get; init; } = double.NaN;

    /// <summary>Micro-batches dropped for a non-finite loss or gradient (with <see cref="TrainingOptions.SkipNonFiniteBatches"/>).</summary>
    public long SkippedBatches { get; init; }

    /// <summary>Whether the run continued from a checkpoint in <see cref="TrainingLoopOptions.CheckpointFolder"/>.</summary>
    public bool Resumed { get; init; }

    /// <summary>Training examples longer than the model's limit, cut to fit.</summary>
    public int TruncatedExamples { get; init; }
}
