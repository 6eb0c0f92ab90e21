namespace Transformer.MLNet.Network.Training;

/// <summary>Optimizer and update settings shared by every trainer.</summary>
/// <remarks>Defaults follow the paper (section 5.3): Adam with β1 = 0.9, β2 = 0.98, ε = 1e-9, label smoothing 0.1.</remarks>
public sealed record TrainingOptions
{
    /// <summary>Peak learning rate, reached at the end of warmup.</summary>
    public double LearningRate { get; init; } = 5e-4;

    /// <summary>Decoupled (AdamW) weight decay of the weight matrices; vectors (biases, LayerNorm gains and shifts) are never decayed.</summary>
    public double WeightDecay { get; init; } = 0.01;

    /// <summary>Adam β1.</summary>
    public double Beta1 { get; init; } = 0.9;

    /// <summary>Adam β2.</summary>
    public double Beta2 { get; init; } = 0.98;

    /// <summary>Adam ε.</summary>
    public double Epsilon { get; init; } = 1e-9;

    /// <summary>Updates spent warming the learning rate up from zero.</summary>
    public long WarmupSteps { get; init; } = 100;

    /// <summary>Decay after warmup.</summary>
    public LearningRateDecay Decay { get; init; } = LearningRateDecay.Linear;

    /// <summary>Clip the global L2 norm of the gradients to this value; 0 disables clipping.</summary>
    public double MaxGradientNorm { get; init; } = 1.0;

    /// <summary>Micro-batches whose gradients are summed before one update (effective batch = this × batch).</summary>
    public int AccumulationSteps { get; init; } = 1;

    /// <summary>ε_ls of label smoothing (the paper uses 0.1).</summary>
    public double LabelSmoothing { get; init; } = 0.1;

    /// <summary>Forward/backward number format.</summary>
    public TrainingPrecision Precision { get; init; } = TrainingPrecision.Float32;

    /// <summary>
    /// Drop a micro-batch whose loss or gradients are NaN or infinite (counted in
    /// <see cref="ParameterUpdater.SkippedBatches"/>) instead of stopping with an <see cref="ArithmeticException"/>.
    /// </summary>
    public bool SkipNonFiniteBatches { get; init; }

    /// <summary>Checks the options and throws an error naming the offending option and value.</summary>
    /// <exception cref="ArgumentException">An option is out of range.</exception>
    public TrainingOptions Validate()
    {
        static void Require(bool ok, string option, object value, string rule)
        {
            if (!ok)
                throw new ArgumentException($"TrainingOptions.{option} = {value} is invalid: {rule}.", option);
        }

        Require(LearningRate > 0 && double.IsFinite(LearningRate), nameof(LearningRate), LearningRate, "must be a positive finite number");
        Require(WeightDecay >= 0 && double.IsFinite(WeightDecay), nameof(WeightDecay), WeightDecay, "must be zero or a positive finite number");
        Require(Beta1 is >= 0 and < 1, nameof(Beta1), Beta1, "must be in [0, 1)");
        Require(Beta2 is >= 0 and < 1, nameof(Beta2), Beta2, "must be in [0, 1)");
        Require(Epsilon > 0 && double.IsFinite(Epsilon), nameof(Epsilon), Epsilon, "must be a positive finite number");
        Require(WarmupSteps >= 0, nameof(WarmupSteps), WarmupSteps, "must be zero or more");
        Require(MaxGradientNorm >= 0, nameof(MaxGradientNorm), MaxGradientNorm, "must be zero (off) or positive");
        Require(AccumulationSteps >= 1, nameof(AccumulationSteps), AccumulationSteps, "must be 1 or more");
        Require(LabelSmoothing is >= 0 and < 1, nameof(LabelSmoothing), LabelSmoothing, "must be in [0, 1)");
        Require(Enum.IsDefined(Precision), nameof(Precision), Precision, "must be Float32 or BFloat16");
        return this;
    }
}
