using Transformer.MLNet.Network.Training;

namespace Transformer.MLNet.Network.Generation;

/// <summary>Settings of <see cref="TranslationTrainer"/> and <see cref="LanguageModelTrainer"/>.</summary>
public sealed record GenerativeTrainingOptions
{
    /// <summary>Optimiser, schedule, clipping, accumulation, label smoothing and precision.</summary>
    public TrainingOptions Optimization { get; init; } = new();

    /// <summary>Passes over the training data at most (default 10).</summary>
    public int MaxEpochs { get; init; } = 10;

    /// <summary>Parameter updates at most; 0 lets <see cref="MaxEpochs"/> decide (default 0).</summary>
    public long MaxSteps { get; init; }

    /// <summary>Wall-clock budget; training stops at the first evaluation after it (default none).</summary>
    public TimeSpan? TimeBudget { get; init; }

    /// <summary>
    /// With a <see cref="TimeBudget"/>, let the learning-rate decay advance with the fraction of the budget spent as
    /// well as with updates, so that the rate has decayed fully when time runs out (default true). Runs stopped by
    /// the budget then end with annealed weights; the updates made depend on the machine's speed either way.
    /// </summary>
    public bool DecayWithinTimeBudget { get; init; } = true;

    /// <summary>Sequences per micro-batch (default 64).</summary>
    public int BatchSize { get; init; } = 64;

    /// <summary>Context length of language-model training windows (default 128).</summary>
    public int BlockSize { get; init; } = 128;

    /// <summary>Validate every this many updates; 0 validates once per epoch (default 0).</summary>
    public int EvaluateEvery { get; init; }

    /// <summary>Most validation batches per evaluation; 0 uses the whole validation set (default 0).</summary>
    public int MaxValidationBatches { get; init; }

    /// <summary>Stop after this many evaluations without a better validation loss; 0 never stops early (default 3).</summary>
    public int Patience { get; init; } = 3;

    /// <summary>Seed of the weight-independent randomness: shuffling, windows, dropout (default 1).</summary>
    public int Seed { get; init; } = 1;

    /// <summary>Called after every evaluation and every <see cref="ReportEvery"/> updates.</summary>
    public IProgress<TrainingProgress>? Progress { get; init; }

    /// <summary>Updates between progress reports (default 50).</summary>
    public int ReportEvery { get; init; } = 50;

    /// <summary>Checks the settings and throws an error naming the offending option and value.</summary>
    /// <returns>This instance.</returns>
    /// <exception cref="ArgumentException">A setting is out of range.</exception>
    public GenerativeTrainingOptions Validate()
    {
        static void Require(bool ok, string option, object value, string rule)
        {
            if (!ok)
                throw new ArgumentException($"GenerativeTrainingOptions.{option} = {value} is invalid: {rule}.", option);
        }

        ArgumentNullException.ThrowIfNull(Optimization, nameof(Optimization));
        Optimization.Validate();
        Require(MaxEpochs >= 1, nameof(MaxEpochs), MaxEpochs, "must be 1 or more");
        Require(MaxSteps >= 0, nameof(MaxSteps), MaxSteps, "must be 0 (no limit) or positive");
        Require(TimeBudget is null || TimeBudget > TimeSpan.Zero, nameof(TimeBudget), TimeBudget!, "must be positive");
        Require(BatchSize >= 1, nameof(BatchSize), BatchSize, "must be 1 or more");
        Require(BlockSize >= 1, nameof(BlockSize), BlockSize, "must be 1 or more");
        Require(EvaluateEvery >= 0, nameof(EvaluateEvery), EvaluateEvery, "must be 0 (once per epoch) or positive");
        Require(MaxValidationBatches >= 0, nameof(MaxValidationBatches), MaxValidationBatches, "must be 0 (all) or positive");
        Require(Patience >= 0, nameof(Patience), Patience, "must be 0 (off) or positive");
        Require(ReportEvery >= 1, nameof(ReportEvery), ReportEvery, "must be 1 or more");
        return this;
    }
}
