namespace Transformer.MLNet.Network.Training;

/// <summary>
/// Linear warmup to <see cref="PeakLearningRate"/> over <see cref="WarmupSteps"/> updates, then the chosen decay.
/// </summary>
/// <param name="PeakLearningRate">Learning rate reached at the end of warmup.</param>
/// <param name="WarmupSteps">Updates spent rising linearly from zero; 0 starts at the peak.</param>
/// <param name="TotalSteps">Updates in the whole run; linear and cosine decay reach zero there.</param>
/// <param name="Decay">Shape of the decay after warmup.</param>
public sealed record LearningRateSchedule(double PeakLearningRate, long WarmupSteps, long TotalSteps, LearningRateDecay Decay)
{
    /// <summary>
    /// The paper's schedule: lrate = d_model^-0.5 · min(step^-0.5, step · warmup^-1.5) (section 5.3), whose peak at
    /// step = warmup is (d_model · warmup)^-0.5.
    /// </summary>
    /// <param name="modelDim">d_model.</param>
    /// <param name="warmupSteps">The paper uses 4000.</param>
    public static LearningRateSchedule Paper(int modelDim, long warmupSteps = 4000) =>
        new(1.0 / Math.Sqrt((double)modelDim * warmupSteps), warmupSteps, long.MaxValue, LearningRateDecay.InverseSqrt);

    /// <summary>Learning rate for the update that follows <paramref name="completedSteps"/> completed updates.</summary>
    /// <param name="completedSteps">Updates already applied (0 for the first update).</param>
    public double At(long completedSteps) => At(completedSteps, 0);

    /// <summary>
    /// Learning rate for the update that follows <paramref name="completedSteps"/> completed updates, with the decay
    /// at least <paramref name="minimumProgress"/> of the way through: a time-budgeted run passes the fraction of its
    /// budget spent, so that linear and cosine decay reach zero when the budget runs out even if fewer than
    /// <see cref="TotalSteps"/> updates fit (the budget-aware schedules of Li, Yumer and Ramanan, "Budgeted Training:
    /// Rethinking Deep Neural Network Training Under Resource Constraints", ICLR 2020). Warmup still counts updates.
    /// </summary>
    /// <param name="completedSteps">Updates already applied (0 for the first update).</param>
    /// <param name="minimumProgress">Lower bound of the decay's progress, in [0, 1].</param>
    public double At(long completedSteps, double minimumProgress)
    {
        // Count from 1 so that the first update never gets a zero learning rate.
        double step = completedSteps + 1;
        if (step <= WarmupSteps)
            return PeakLearningRate * step / WarmupSteps;

        double decaySteps = Math.Max(1, TotalSteps - WarmupSteps);
        double progress = Math.Clamp(Math.Max((step - WarmupSteps) / decaySteps, minimumProgress), 0, 1);
        return Decay switch
        {
            LearningRateDecay.Constant => PeakLearningRate,
            LearningRateDecay.Linear => PeakLearningRate * (1 - progress),
            LearningRateDecay.Cosine => PeakLearningRate * 0.5 * (1 + Math.Cos(Math.PI * progress)),
            LearningRateDecay.InverseSqrt => PeakLearningRate * Math.Sqrt(Math.Max(1, WarmupSteps) / step),
            _ => throw new ArgumentOutOfRangeException(nameof(Decay), Decay, "Unknown learning-rate decay."),
        };
    }

    /// <summary>Checks the schedule and throws an error naming the offending field and value.</summary>
    /// <exception cref="ArgumentException">A field is out of range.</exception>
    public LearningRateSchedule Validate()
    {
        if (!(PeakLearningRate > 0) || double.IsInfinity(PeakLearningRate))
            throw new ArgumentException($"PeakLearningRate = {PeakLearningRate} is invalid: must be a positive finite number.", nameof(PeakLearningRate));
        if (WarmupSteps < 0)
            throw new ArgumentException($"WarmupSteps = {WarmupSteps} is invalid: must be zero or more.", nameof(WarmupSteps));
        if (TotalSteps <= 0)
            throw new ArgumentException($"TotalSteps = {TotalSteps} is invalid: must be positive.", nameof(TotalSteps));
        return this;
    }
}
