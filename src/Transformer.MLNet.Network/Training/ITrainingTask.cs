using TorchSharp;
using static TorchSharp.torch;

namespace Transformer.MLNet.Network.Training;

/// <summary>
/// What a task gives <see cref="TrainingLoop"/>: its model, its micro-batches (each computing a loss) and a validation
/// metric with its direction. Everything else — optimizer, schedule, precision, early stopping, checkpoints, time
/// budget, progress — is the loop's, so a feature added there is a feature of every task.
/// </summary>
internal interface ITrainingTask
{
    /// <summary>The model being trained, in float32 on its device.</summary>
    nn.Module Model { get; }

    /// <summary>Training examples; a checkpoint records it so that a resumed run can check it sees the same data.</summary>
    int ExampleCount { get; }

    /// <summary>Micro-batches per epoch, known before the first epoch so that the schedule has a length.</summary>
    int MicroBatchesPerEpoch { get; }

    /// <summary>
    /// The micro-batches of one epoch, in order. Called once per epoch, from the first, also for the epochs a resumed
    /// run has already done, so a task that draws its order from a generator seeded with the run's seed replays it.
    /// </summary>
    IReadOnlyList<MicroBatch> Epoch(int epoch);

    /// <summary>Whether there is validation data; without it there is no early stopping and no best-weight restore.</summary>
    bool CanValidate { get; }

    /// <summary>Name of the validation metric, as reported in <see cref="TrainingProgress.MetricName"/>.</summary>
    string MetricName { get; }

    /// <summary>Whether a higher validation metric is better (accuracy) rather than a lower one (loss).</summary>
    bool HigherIsBetter { get; }

    /// <summary>The validation metric; the loop calls it in evaluation mode without gradients.</summary>
    double Validate();
}

/// <summary>One micro-batch: how many examples it holds and how to compute its scalar loss (in float32).</summary>
/// <param name="Examples">Examples in the micro-batch, for throughput.</param>
/// <param name="Loss">Computes the loss; called inside the loop's dispose scope.</param>
internal sealed record MicroBatch(int Examples, Func<Tensor> Loss);
