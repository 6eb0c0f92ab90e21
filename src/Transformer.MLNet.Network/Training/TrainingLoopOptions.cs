namespace Transformer.MLNet.Network.Training;

/// <summary>
/// What every trainer's loop is told, whatever the task: how long to train, how to validate and stop early, where to
/// checkpoint and whom to tell. Each task's options derive from this record and add only what is its own, so an option
/// name means one thing in every trainer.
/// </summary>
public abstract record TrainingLoopOptions
{
    /// <summary>Optimizer, schedule shape, clipping, accumulation, label smoothing, precision and non-finite handling.</summary>
    public TrainingOptions Optimization { get; init; } = new();

    /// <summary>Passes over the training data at most; training may stop earlier (patience, <see cref="MaxSteps"/>, <see cref="TimeBudget"/>).</summary>
    public int Epochs { get; init; } = 10;

    /// <summary>Parameter updates at most; 0 lets <see cref="Epochs"/> decide (default 0).</summary>
    public long MaxSteps { get; init; }

    /// <summary>Wall-clock budget; training stops at the first update after it and is validated once more (default none).</summary>
    public TimeSpan? TimeBudget { get; init; }

    /// <summary>
    /// With a <see cref="TimeBudget"/>, let the learning-rate decay advance with the fraction of the budget spent as
    /// well as with updates, so that the rate has decayed fully when time runs out (default true). Runs stopped by
    /// the budget then end with annealed weights; the updates made depend on the machine's speed either way.
    /// </summary>
    public bool DecayWithinTimeBudget { get; init; } = true;

    /// <summary>Training examples (texts, sentence pairs, windows) per micro-batch.</summary>
    public int BatchSize { get; init; } = 32;

    /// <summary>
    /// Fraction of all planned updates spent warming the learning rate up; replaces
    /// <see cref="TrainingOptions.WarmupSteps"/> when set (default null: use the warmup steps).
    /// </summary>
    public double? WarmupFraction { get; init; }

    /// <summary>Validate every this many updates; 0 validates once per epoch (default 0).</summary>
    public int EvaluateEvery { get; init; }

    /// <summary>
    /// With validation data: stop after this many evaluations in a row without a better validation metric; 0 never
    /// stops early. One evaluation per epoch unless <see cref="EvaluateEvery"/> is set.
    /// </summary>
    public int Patience { get; init; }

    /// <summary>With validation data: end with the weights of the best evaluation rather than the last (default true).</summary>
    public bool RestoreBest { get; init; } = true;

    /// <summary>Seed of dropout, data order and sampling; the same seed repeats a run exactly on CPU.</summary>
    public int Seed { get; init; }

    /// <summary>Updates between progress reports; reports are also made after every evaluation and at each epoch's end.</summary>
    public int ReportEvery { get; init; } = 50;

    /// <summary>
    /// Folder for a checkpoint (weights, optimizer moments, schedule position, random state and where the run stands).
    /// When set, a checkpoint is written at the end of each epoch and when training is cancelled, and a run started
    /// with a folder that holds one resumes from it and ends with the same weights and losses as an uninterrupted run
    /// (on CPU, same data and <see cref="Seed"/>). With gradient accumulation, cancellation waits for the next update.
    /// The checkpoint is deleted when training completes. Null (default) writes none. A bfloat16 run
    /// (<see cref="TrainingPrecision.BFloat16"/>) checkpoints its float32 master weights and resumes exactly as well.
    /// </summary>
    public string? CheckpointFolder { get; init; }

    /// <summary>Receives progress reports (see <see cref="ReportEvery"/>).</summary>
    public IProgress<TrainingProgress>? Progress { get; init; }

    /// <summary>
    /// The clock <see cref="TimeBudget"/>, elapsed times and throughput are measured with (default the system's); tests
    /// give a clock of their own so that budget behaviour does not depend on the machine's load.
    /// </summary>
    internal TimeProvider Clock { get; init; } = TimeProvider.System;

    /// <summary>Checks the options and throws an error naming the offending option and value.</summary>
    /// <exception cref="ArgumentException">An option is out of range.</exception>
    public virtual void Validate()
    {
        ArgumentNullException.ThrowIfNull(Optimization, nameof(Optimization));
        Optimization.Validate();
        Require(Epochs >= 1, nameof(Epochs), Epochs, "must be 1 or more");
        Require(MaxSteps >= 0, nameof(MaxSteps), MaxSteps, "must be 0 (no limit) or positive");
        Require(TimeBudget is null || TimeBudget > TimeSpan.Zero, nameof(TimeBudget), TimeBudget!, "must be positive");
        Require(BatchSize >= 1, nameof(BatchSize), BatchSize, "must be 1 or more");
        Require(WarmupFraction is null or (>= 0 and <= 1), nameof(WarmupFraction), WarmupFraction!, "must be in [0, 1]");
        Require(EvaluateEvery >= 0, nameof(EvaluateEvery), EvaluateEvery, "must be 0 (once per epoch) or positive");
        Require(Patience >= 0, nameof(Patience), Patience, "must be 0 (off) or positive");
        Require(ReportEvery >= 1, nameof(ReportEvery), ReportEvery, "must be 1 or more");
        Require(CheckpointFolder is null || !string.IsNullOrWhiteSpace(CheckpointFolder), nameof(CheckpointFolder), $"'{CheckpointFolder}'",
            "give a folder path, or null to write no checkpoint");
    }

    /// <summary>Throws an <see cref="ArgumentException"/> naming this options type, the option, its value and the rule it breaks.</summary>
    protected void Require(bool ok, string option, object value, string rule)
    {
        if (!ok)
            throw new ArgumentException($"{GetType().Name}.{option} = {value} is invalid: {rule}.", option);
    }
}
