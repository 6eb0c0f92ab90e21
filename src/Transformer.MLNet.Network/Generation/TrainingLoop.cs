using System.Diagnostics;
using TorchSharp;
using Transformer.MLNet.Network.Training;
using static TorchSharp.torch;

namespace Transformer.MLNet.Network.Generation;

/// <summary>
/// The loop both generative trainers share: micro-batches through <see cref="ParameterUpdater"/> (schedule,
/// clipping, accumulation), periodic validation, early stopping that keeps the best weights, a time budget,
/// progress reports and cancellation.
/// </summary>
internal sealed class TrainingLoop
{
    private readonly nn.Module model;
    private readonly GenerativeTrainingOptions options;
    private readonly Func<double>? validate;
    private readonly Stopwatch clock = new();
    private Dictionary<string, Tensor>? bestWeights;
    private double bestLoss = double.PositiveInfinity;
    private int evaluationsWithoutGain;
    private double lossSum;
    private long lossCount;
    private double lastTrainLoss = double.NaN;
    private TimeSpan? warmupEnded;

    /// <param name="model">The model to train.</param>
    /// <param name="options">Settings.</param>
    /// <param name="validate">Validation cross-entropy in nats per token (called in eval mode without gradients), or null.</param>
    public TrainingLoop(nn.Module model, GenerativeTrainingOptions options, Func<double>? validate)
    {
        this.model = model;
        this.options = options;
        this.validate = validate;
    }

    /// <summary>Trains until epochs, steps, time or patience run out, then restores the best validated weights.</summary>
    /// <param name="epochBatches">The micro-batches of an epoch (1-based), each computing its loss.</param>
    /// <param name="updatesPerEpoch">Parameter updates per epoch, for the learning-rate schedule's length.</param>
    /// <param name="cancellation">Stops training with <see cref="OperationCanceledException"/>.</param>
    public TrainingSummary Run(Func<int, IEnumerable<Func<Tensor>>> epochBatches, long updatesPerEpoch, CancellationToken cancellation)
    {
        long totalSteps = options.MaxSteps > 0 ? options.MaxSteps : Math.Max(1, updatesPerEpoch * options.MaxEpochs);
        Seeding.Apply(options.Seed);
        using var updater = new ParameterUpdater(model, options.Optimization, totalSteps: totalSteps);
        clock.Restart();
        string reason = "epochs";
        int epoch = 0;
        try
        {
            for (epoch = 1; epoch <= options.MaxEpochs && reason == "epochs"; epoch++)
            {
                model.train();
                foreach (var microBatch in epochBatches(epoch))
                {
                    cancellation.ThrowIfCancellationRequested();
                    if (options.DecayWithinTimeBudget && options.TimeBudget is { } budget)
                        updater.MinimumScheduleProgress = TimeProgress(updater, budget);
                    bool stepped;
                    using (var scope = NewDisposeScope())
                    {
                        using var loss = microBatch();
                        lossSum += loss.ToDouble();
                        lossCount++;
                        stepped = updater.Backward(loss);
                    }

                    if (stepped && AfterUpdate(updater, epoch) is { } stop)
                    {
                        reason = stop;
                        break;
                    }
                }

                if (reason != "epochs")
                    break;
                if (updater.Flush() && AfterUpdate(updater, epoch) is { } flushed)
                    reason = flushed;
                else if (options.EvaluateEvery == 0 && Evaluate(updater, epoch))
                    reason = "early stopping";
            }
        }
        finally
        {
            // A bfloat16 run ends as a float32 model holding the exact master weights.
            updater.RestoreFloat32Model();
            model.eval();
        }

        if (bestWeights is not null)
            Restore();
        return new TrainingSummary(updater.CompletedSteps, Math.Min(epoch, options.MaxEpochs), validate is null ? double.NaN : bestLoss,
            lastTrainLoss, clock.Elapsed, reason);
    }

    /// <summary>
    /// The fraction of the time budget spent since warmup ended (0 during warmup), so that a budget-bound run decays
    /// over the time it has left after warming up.
    /// </summary>
    private double TimeProgress(ParameterUpdater updater, TimeSpan budget)
    {
        if (updater.CompletedSteps < options.Optimization.WarmupSteps)
            return 0;
        warmupEnded ??= clock.Elapsed;
        var left = budget - warmupEnded.Value;
        return left <= TimeSpan.Zero ? 1 : Math.Clamp((clock.Elapsed - warmupEnded.Value) / left, 0, 1);
    }

    private string? AfterUpdate(ParameterUpdater updater, int epoch)
    {
        long step = updater.CompletedSteps;
        if (step % options.ReportEvery == 0)
            Report(updater, epoch, null);
        if (options.EvaluateEvery > 0 && step % options.EvaluateEvery == 0 && Evaluate(updater, epoch))
            return "early stopping";
        if (options.MaxSteps > 0 && step >= options.MaxSteps)
        {
            FinalEvaluation(updater, epoch);
            return "steps";
        }

        if (options.TimeBudget is { } budget && clock.Elapsed >= budget)
        {
            FinalEvaluation(updater, epoch);
            return "time budget";
        }

        return null;
    }

    private void FinalEvaluation(ParameterUpdater updater, int epoch)
    {
        if (options.EvaluateEvery == 0 || updater.CompletedSteps % options.EvaluateEvery != 0)
            Evaluate(updater, epoch);
    }

    /// <summary>Validates, keeps the weights if they are the best so far, and says whether patience ran out.</summary>
    private bool Evaluate(ParameterUpdater updater, int epoch)
    {
        if (validate is null)
            return false;
        double loss;
        model.eval();
        using (no_grad())
            loss = validate();
        model.train();

        if (loss < bestLoss)
        {
            bestLoss = loss;
            evaluationsWithoutGain = 0;
            Snapshot(updater);
        }
        else
        {
            evaluationsWithoutGain++;
        }

        Report(updater, epoch, loss);
        return options.Patience > 0 && evaluationsWithoutGain >= options.Patience;
    }

    private void Report(ParameterUpdater updater, int epoch, double? validationLoss)
    {
        if (lossCount > 0)
        {
            lastTrainLoss = lossSum / lossCount;
            lossSum = 0;
            lossCount = 0;
        }

        options.Progress?.Report(new TrainingProgress(updater.CompletedSteps, epoch, lastTrainLoss, validationLoss, updater.LearningRate, clock.Elapsed));
    }

    /// <summary>Keeps the current weights in float32 (from the master copies when training in bfloat16).</summary>
    private void Snapshot(ParameterUpdater updater)
    {
        using var noGrad = no_grad();
        var masters = updater.Float32Parameters;
        var exact = model.named_parameters().Select((p, i) => (p.name, Master: (Tensor)masters[i])).ToDictionary(p => p.name, p => p.Master);
        foreach (var (name, value) in model.state_dict())
        {
            var source = exact.GetValueOrDefault(name) ?? value;
            if (bestWeights?.TryGetValue(name, out var kept) == true)
                kept.copy_(source);
            else
                (bestWeights ??= [])[name] = KeepFloat32(source);
        }

        static Tensor KeepFloat32(Tensor source) =>
            (source.is_floating_point() ? source.detach().to(ScalarType.Float32, copy: true) : source.detach().clone()).DetachFromDisposeScope();
    }

    private void Restore()
    {
        using (no_grad())
        {
            foreach (var (name, value) in model.state_dict())
                value.copy_(bestWeights![name]);
        }

        foreach (var weights in bestWeights!.Values)
            weights.Dispose();
        bestWeights = null;
    }
}
