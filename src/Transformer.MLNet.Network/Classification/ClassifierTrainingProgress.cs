namespace Transformer.MLNet.Network.Classification;

/// <summary>One progress report of <see cref="TextClassifierTrainer"/>.</summary>
/// <param name="Epoch">Current epoch, from 1.</param>
/// <param name="Epochs">Epochs planned.</param>
/// <param name="Step">Updates done so far.</param>
/// <param name="TotalSteps">Updates planned.</param>
/// <param name="Loss">Mean training loss over the epoch so far.</param>
/// <param name="LearningRate">Learning rate of the last update.</param>
/// <param name="ExamplesPerSecond">Training throughput so far.</param>
/// <param name="Elapsed">Time since training started.</param>
/// <param name="Remaining">Estimated time to the last planned update.</param>
/// <param name="ValidationAccuracy">Accuracy on the validation set at the end of this epoch, when there is one.</param>
/// <param name="EpochCompleted">True for the report made at the end of an epoch.</param>
public sealed record ClassifierTrainingProgress(
    int Epoch, int Epochs, long Step, long TotalSteps, double Loss, double LearningRate, double ExamplesPerSecond,
    TimeSpan Elapsed, TimeSpan Remaining, double? ValidationAccuracy, bool EpochCompleted)
{
    /// <summary>A one-line summary, e.g. for logs.</summary>
    public override string ToString()
    {
        string validation = ValidationAccuracy is { } a ? FormattableString.Invariant($" val_acc={a:F4}") : "";
        return FormattableString.Invariant(
            $"epoch {Epoch}/{Epochs} step {Step}/{TotalSteps} loss={Loss:F4} lr={LearningRate:G3} {ExamplesPerSecond:F1} ex/s eta {(int)Remaining.TotalMinutes}:{Remaining.Seconds:00}{validation}");
    }
}
