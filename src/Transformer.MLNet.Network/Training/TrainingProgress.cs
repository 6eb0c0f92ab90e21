namespace Transformer.MLNet.Network.Training;

/// <summary>One progress report of a trainer; every task reports the same record.</summary>
/// <param name="Epoch">Epoch being trained, from 1.</param>
/// <param name="Epochs">Most epochs planned.</param>
/// <param name="Step">Parameter updates so far.</param>
/// <param name="TotalSteps">Updates planned (the schedule's length).</param>
/// <param name="TrainLoss">Mean training loss of the micro-batches since the previous report (label smoothing included).</param>
/// <param name="LearningRate">Learning rate of the next update.</param>
/// <param name="ExamplesPerSecond">Training throughput so far.</param>
/// <param name="Elapsed">Time since training started (a resumed run counts the time before the interruption).</param>
/// <param name="Remaining">Estimated time to the last planned update.</param>
/// <param name="ValidationMetric">
/// The validation metric when this report follows an evaluation: accuracy for classifiers (higher is better),
/// cross-entropy in nats per token for generative models (lower is better); see <see cref="MetricName"/>.
/// </param>
/// <param name="EpochCompleted">True for the report made at the end of an epoch.</param>
public sealed record TrainingProgress(
    int Epoch, int Epochs, long Step, long TotalSteps, double TrainLoss, double LearningRate, double ExamplesPerSecond,
    TimeSpan Elapsed, TimeSpan Remaining, double? ValidationMetric, bool EpochCompleted)
{
    /// <summary>What <see cref="ValidationMetric"/> measures: "accuracy" or "loss".</summary>
    public string MetricName { get; init; } = "loss";

    /// <summary>A one-line summary, e.g. for logs.</summary>
    public override string ToString()
    {
        string validation = ValidationMetric is { } v ? FormattableString.Invariant($" validation {MetricName}={v:F4}") : "";
        return FormattableString.Invariant(
            $"epoch {Epoch}/{Epochs} step {Step}/{TotalSteps} loss={TrainLoss:F4} lr={LearningRate:G3} {ExamplesPerSecond:F1} ex/s eta {(int)Remaining.TotalMinutes}:{Remaining.Seconds:00}{validation}");
    }
}
