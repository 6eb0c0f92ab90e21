using Microsoft.ML;
using Transformer.MLNet.Network.Training;

namespace Transformer.MLNet;

/// <summary>
/// The options every trainable estimator shares. Each name means one thing in every estimator (the table in
/// <c>docs/options.md</c>); the estimators add only what is their own (<c>Epochs</c>, <c>BatchSize</c>,
/// <c>LearningRate</c> and <c>LabelSmoothing</c> too, with each estimator's defaults and search ranges).
/// </summary>
public abstract class TrainableEstimatorOptions
{
    /// <summary>
    /// Data held out for validation, with the same columns as the training data: early stopping and best-weight
    /// restore follow its metric. When null, <see cref="ValidationFraction"/> of the training rows is held out.
    /// </summary>
    public IDataView? ValidationSet { get; set; }

    /// <summary>
    /// Without a <see cref="ValidationSet"/>: the fraction of training rows held out (chosen with the seed) for
    /// validation; 0 validates on nothing and trains on every row.
    /// </summary>
    public double ValidationFraction { get; set; }

    /// <summary>With validation data: stop after this many evaluations in a row without a better metric; 0 never stops early.</summary>
    public int Patience { get; set; }

    /// <summary>With validation data: end with the weights of the best evaluation rather than the last (default true).</summary>
    public bool RestoreBest { get; set; } = true;

    /// <summary>
    /// Arithmetic of training: float32, or bfloat16 with float32 master weights (faster on CPUs with bfloat16 units;
    /// the fitted model is float32 either way). Default float32.
    /// </summary>
    public TrainingPrecision Precision { get; set; } = TrainingPrecision.Float32;

    /// <summary>
    /// Drop a micro-batch whose loss or gradients are NaN or infinite, and go on, instead of stopping <c>Fit</c> with an
    /// <see cref="ArithmeticException"/> (default false). The dropped batches are counted in the training log.
    /// </summary>
    public bool SkipNonFiniteBatches { get; set; }

    /// <summary>Seed of weights, data order, validation split and dropout; null (default) draws it from the <c>MLContext</c>'s seed.</summary>
    public int? Seed { get; set; }

    /// <summary>Wall-clock training budget, or null for none; training stops at the first update after it.</summary>
    public TimeSpan? TimeBudget { get; set; }

    /// <summary>
    /// With a <see cref="TimeBudget"/>, the learning rate also decays with the fraction of the budget spent, so a run
    /// cut short by time still ends with a fully decayed rate (default true).
    /// </summary>
    public bool DecayWithinTimeBudget { get; set; } = true;

    /// <summary>
    /// Folder for a training checkpoint, written at each epoch's end and on cancellation; a <c>Fit</c> whose folder
    /// holds one resumes from it (same data and <see cref="Seed"/>) and ends with the weights and losses of an
    /// uninterrupted run, in float32 or bfloat16 <see cref="Precision"/>. Resuming with other training settings (epochs,
    /// batch size, learning rate, precision and the like) is refused. Null (default) writes none.
    /// </summary>
    public string? CheckpointFolder { get; set; }

    /// <summary>Receives progress reports; the same lines also go to <c>mlContext.Log</c>.</summary>
    public IProgress<TrainingProgress>? Progress { get; set; }

    /// <summary>Cancels <c>Fit</c> between micro-batches (after writing a checkpoint when <see cref="CheckpointFolder"/> is set).</summary>
    public CancellationToken Cancellation { get; set; }

    /// <summary>Copies the shared options onto the network trainer's options.</summary>
    /// <param name="options">The network options with the estimator's own settings.</param>
    /// <param name="seed">The seed in effect (<see cref="Seed"/> or the <c>MLContext</c>'s).</param>
    /// <param name="progress">Where progress goes (the log that forwards to <see cref="Progress"/>).</param>
    private protected TOptions Apply<TOptions>(TOptions options, int seed, IProgress<TrainingProgress>? progress)
        where TOptions : TrainingLoopOptions =>
        (TOptions)(options with
        {
            Optimization = options.Optimization with { Precision = Precision, SkipNonFiniteBatches = SkipNonFiniteBatches },
            Patience = Patience,
            RestoreBest = RestoreBest,
            Seed = seed,
            TimeBudget = TimeBudget,
            DecayWithinTimeBudget = DecayWithinTimeBudget,
            CheckpointFolder = CheckpointFolder,
            Progress = progress,
        });

    /// <summary>Checks the shared options before any data is read; errors name the option, its value and the fix.</summary>
    private protected void ValidateShared()
    {
        if (ValidationFraction is < 0 or >= 1 || double.IsNaN(ValidationFraction))
            throw new ArgumentOutOfRangeException(nameof(ValidationFraction), ValidationFraction, "ValidationFraction must be in [0, 1).");
        if (!Enum.IsDefined(Precision))
            throw new ArgumentOutOfRangeException(nameof(Precision), Precision, "Precision must be Float32 or BFloat16.");
        if (Patience < 0)
            throw new ArgumentOutOfRangeException(nameof(Patience), Patience, "Patience must be 0 (never stop early) or more.");
        if (TimeBudget is { } budget && budget <= TimeSpan.Zero)
            throw new ArgumentOutOfRangeException(nameof(TimeBudget), budget, "TimeBudget must be positive, or null for none.");
        if (CheckpointFolder is not null && string.IsNullOrWhiteSpace(CheckpointFolder))
        {
            throw new ArgumentException(
                $"CheckpointFolder = '{CheckpointFolder}' is invalid: give a folder path, or null to write no checkpoint.", nameof(CheckpointFolder));
        }

        if (CheckpointFolder is not null && File.Exists(CheckpointFolder))
        {
            throw new ArgumentException(
                $"CheckpointFolder = '{CheckpointFolder}' is a file, not a folder: give a folder path (created if missing), or null to write no checkpoint.",
                nameof(CheckpointFolder));
        }
    }
}
