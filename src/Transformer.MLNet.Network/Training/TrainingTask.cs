using TorchSharp;
using static TorchSharp.torch;

namespace Transformer.MLNet.Network.Training;

/// <summary>
/// What a task gives <see cref="TrainingLoop"/>: its model, its micro-batches (each computing a loss) and a validation
/// metric with its direction. Everything else — optimizer, schedule, precision, early stopping, checkpoints, time
/// budget, progress — is the loop's, so a feature added there is a feature of every task.
/// </summary>
/// <param name="model">The model being trained, in float32 on its device.</param>
/// <param name="exampleCount">Training examples; a checkpoint records it so that a resumed run can check it sees the same data.</param>
/// <param name="microBatchesPerEpoch">Micro-batches per epoch, known before the first epoch so that the schedule has a length.</param>
/// <param name="metric">The validation metric, or null without validation data (no early stopping, no best-weight restore).</param>
internal abstract class TrainingTask(nn.Module model, int exampleCount, int microBatchesPerEpoch, ValidationMetric? metric)
{
    /// <summary>The model being trained.</summary>
    public nn.Module Model => model;

    /// <summary>Training examples.</summary>
    public int ExampleCount => exampleCount;

    /// <summary>Micro-batches per epoch.</summary>
    public int MicroBatchesPerEpoch => microBatchesPerEpoch;

    /// <summary>The validation metric, or null without validation data.</summary>
    public ValidationMetric? Metric => metric;

    /// <summary>
    /// The micro-batches of one epoch, in order. Called once per epoch, from the first, also for the epochs a resumed
    /// run has already done, so a task that draws its order from a generator seeded with the run's seed replays it.
    /// </summary>
    public abstract IReadOnlyList<MicroBatch> Epoch(int epoch);

    /// <summary>The validation metric's value; the loop calls it in evaluation mode without gradients.</summary>
    public abstract double Validate();

    /// <summary>Batches of at most <paramref name="batchSize"/> that hold <paramref name="examples"/> (in 64 bits: any batch size up to <see cref="int.MaxValue"/>).</summary>
    internal static int BatchCount(int examples, int batchSize) => (int)(((long)examples + batchSize - 1) / batchSize);
}

/// <summary>What a task validates with, and which way is better.</summary>
/// <param name="Name">As reported in <see cref="TrainingProgress.MetricName"/>.</param>
/// <param name="HigherIsBetter">True for accuracy, false for a loss.</param>
internal sealed record ValidationMetric(string Name, bool HigherIsBetter)
{
    /// <summary>Cross-entropy, lower is better.</summary>
    public static ValidationMetric Loss { get; } = new("loss", HigherIsBetter: false);

    /// <summary>Fraction classified correctly, higher is better.</summary>
    public static ValidationMetric Accuracy { get; } = new("accuracy", HigherIsBetter: true);

    /// <summary>Root mean squared error of a regression head, lower is better.</summary>
    public static ValidationMetric RootMeanSquaredError { get; } = new("rmse", HigherIsBetter: false);

    /// <summary>Spearman's rank correlation with gold similarities, higher is better.</summary>
    public static ValidationMetric Spearman { get; } = new("spearman", HigherIsBetter: true);
}

/// <summary>One micro-batch: how many examples it holds and how to compute its scalar loss (in float32).</summary>
/// <param name="Examples">Examples in the micro-batch, for throughput.</param>
/// <param name="Loss">Computes the loss; called inside the loop's dispose scope.</param>
/// <param name="Part">
/// Where the loss is a mean over items of the examples (the examples themselves, their words or their target tokens),
/// the same loss over examples [start, end) with how many items it averages: the loop weights each part's mean by its
/// share of the items, so that the parts add up to <paramref name="Loss"/>, and so do their gradients. The loop may then
/// compute the parts on several threads at once (<see cref="SplitMicroBatch"/>); it must be safe to call from any
/// thread. Null where the loss couples examples (in-batch negatives).
/// </param>
/// <param name="Lengths">
/// Each example's token count, in the order <paramref name="Part"/> takes them, where a part is padded to its longest
/// example: the split then gives the two halves about equal padded tokens (<see cref="SplitMicroBatch.FirstHalf"/>).
/// Null where the examples are of equal length or their cost is not known.
/// </param>
internal sealed record MicroBatch(int Examples, Func<Tensor> Loss, Func<int, int, PartLoss>? Part = null, IReadOnlyList<int>? Lengths = null);

/// <summary>A part of a micro-batch's loss: its mean over <paramref name="Items"/> items (a part without items is left out).</summary>
/// <param name="Mean">The mean loss of the part.</param>
/// <param name="Items">How many items (examples, words, target tokens) the mean is over.</param>
internal readonly record struct PartLoss(Tensor Mean, long Items);
