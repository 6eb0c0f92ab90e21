using TorchSharp;
using static TorchSharp.torch;

namespace Transformer.MLNet.Network.Training;

/// <summary>
/// The one training loop of every task (<see cref="TrainingTask"/>): micro-batches through <see cref="ParameterUpdater"/>
/// (AdamW, warmup and decay, clipping, accumulation, bfloat16 with float32 master weights, non-finite detection),
/// validation once per epoch or every <see cref="TrainingLoopOptions.EvaluateEvery"/> updates, early stopping after
/// <see cref="TrainingLoopOptions.Patience"/> evaluations without gain, restore of the best weights, a time budget the
/// decay follows, step and epoch limits, checkpoint and resume, cancellation and one progress record.
/// </summary>
internal sealed class TrainingLoop
{
    private readonly TrainingTask task;
    private readonly TrainingLoopOptions options;
    private readonly nn.Module model;
    private long started;
    private readonly BestWeights best = new();
    private readonly List<double> losses = [];
    private readonly List<double> metrics = [];
    private TimeSpan elapsedBefore;
    private TimeSpan? warmupEnded;
    private long totalSteps;
    private long warmupSteps;
    private double epochLossSum, intervalLossSum, lastTrainLoss = double.NaN;
    private int epochLossCount, intervalLossCount;
    private long examplesSeen;
    private double? bestMetric;
    private int bestEpoch, evaluationsWithoutGain;
    private bool bestIsCurrent;

    private TrainingLoop(TrainingTask task, TrainingLoopOptions options)
    {
        this.task = task;
        this.options = options;
        model = task.Model;
    }

    private TimeSpan Elapsed => elapsedBefore + options.Clock.GetElapsedTime(started);

    /// <summary>Trains <paramref name="task"/>'s model in place until epochs, steps, time or patience run out.</summary>
    /// <param name="task">Model, micro-batches and validation metric.</param>
    /// <param name="options">The loop's settings; validated here.</param>
    /// <param name="cancellation">
    /// Stops training between micro-batches with <see cref="OperationCanceledException"/>, after writing a checkpoint
    /// when <see cref="TrainingLoopOptions.CheckpointFolder"/> is set.
    /// </param>
    /// <returns>What training did; the model holds the best validated weights when <see cref="TrainingLoopOptions.RestoreBest"/>.</returns>
    public static TrainingResult Run(TrainingTask task, TrainingLoopOptions options, CancellationToken cancellation)
    {
        ArgumentNullException.ThrowIfNull(task);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        var loop = new TrainingLoop(task, options);
        try
        {
            return loop.Run(cancellation);
        }
        finally
        {
            loop.best.Dispose();
        }
    }

    private TrainingResult Run(CancellationToken cancellation)
    {
        int microBatches = task.MicroBatchesPerEpoch;
        if (microBatches < 1)
            throw new ArgumentException("The training data gives no micro-batch; add training rows.", nameof(task));
        int accumulation = options.Optimization.AccumulationSteps;
        long updatesPerEpoch = (microBatches + accumulation - 1) / accumulation;
        totalSteps = options.MaxSteps > 0 ? options.MaxSteps : Math.Max(1, updatesPerEpoch * options.Epochs);
        var optimization = options.WarmupFraction is { } fraction
            ? options.Optimization with { WarmupSteps = (long)Math.Round(fraction * totalSteps) }
            : options.Optimization;
        warmupSteps = optimization.WarmupSteps;

        // Dropout draws from TorchSharp's generator; data order from the task's own, seeded with the same seed.
        torch.random.manual_seed(options.Seed);
        string? folder = options.CheckpointFolder;
        var resume = folder is not null && TrainingCheckpoint.Exists(folder)
            ? TrainingCheckpoint.Read(folder, options.Seed, task.ExampleCount, options, microBatches)
            : null;
        if (folder is not null && resume is null)
        {
            // Fail before training, not at the first checkpoint, when the folder cannot be made.
            try
            {
                Directory.CreateDirectory(folder);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or NotSupportedException)
            {
                throw new IOException(
                    $"CheckpointFolder '{folder}' cannot be created ({e.Message}); give a writable folder, or null to write no checkpoint.", e);
            }
        }

        string reason = "epochs";
        int epochsStarted = 0;
        using var updater = new ParameterUpdater(model, optimization, totalSteps: totalSteps);
        using var splitter = SplitMicroBatch.For(model, updater);
        try
        {
            if (resume is not null)
            {
                Resume(resume);
                best.Adopt(resume.Restore(folder!, updater));
            }

            started = options.Clock.GetTimestamp();
            for (int epoch = 1; epoch <= options.Epochs && reason == "epochs"; epoch++)
            {
                var batches = task.Epoch(epoch);
                epochsStarted = epoch;
                if (resume is not null && epoch < resume.Epoch)
                    continue; // the epochs a resumed run has done: their data order is drawn again and dropped

                model.train();
                bool resumedEpoch = resume is not null && epoch == resume.Epoch;
                if (!resumedEpoch)
                    (epochLossSum, epochLossCount) = (0, 0);
                for (int b = resumedEpoch ? resume!.NextMicroBatch : 0; b < batches.Count; b++)
                {
                    if (cancellation.IsCancellationRequested && (folder is null || updater.PendingMicroBatches == 0))
                    {
                        if (folder is not null)
                            Checkpoint(folder, epoch, b, updater);
                        cancellation.ThrowIfCancellationRequested();
                    }

                    if (options.DecayWithinTimeBudget && options.TimeBudget is { } budget)
                        updater.MinimumScheduleProgress = TimeProgress(updater, budget);
                    if (Step(updater, splitter, batches, epoch, b) && AfterUpdate(updater, epoch) is { } stop)
                    {
                        reason = stop;
                        break;
                    }
                }

                losses.Add(epochLossCount > 0 ? epochLossSum / epochLossCount : double.NaN);
                if (reason != "epochs")
                    break;

                double? metric = null;
                if (options.EvaluateEvery == 0 && task.Metric is not null)
                {
                    metric = Evaluate(updater, epoch);
                    if (options.Patience > 0 && evaluationsWithoutGain >= options.Patience)
                        reason = "early stopping";
                }

                Report(updater, epoch, metric, epochCompleted: true);
                if (folder is not null && epoch < options.Epochs && reason == "epochs")
                    Checkpoint(folder, epoch + 1, 0, updater);
            }
        }
        finally
        {
            // A bfloat16 run ends as a float32 model holding the exact master weights.
            updater.RestoreFloat32Model();
            model.eval();
        }

        if (options.RestoreBest && best.Tensors is not null && !bestIsCurrent)
            best.Restore(model);

        if (folder is not null)
            TrainingCheckpoint.Delete(folder);
        return new TrainingResult(updater.CompletedSteps, epochsStarted, bestMetric is null ? epochsStarted : bestEpoch,
            bestMetric ?? double.NaN, losses, metrics, Elapsed, reason)
        {
            LastTrainLoss = intervalLossCount > 0 ? intervalLossSum / intervalLossCount : lastTrainLoss,
            SkippedBatches = updater.SkippedBatches,
            Resumed = resume is not null,
        };
    }

    /// <summary>Back-propagates micro-batch <paramref name="b"/> (flushing the update at the epoch's end); true when an update was applied.</summary>
    private bool Step(ParameterUpdater updater, SplitMicroBatch? splitter, IReadOnlyList<MicroBatch> batches, int epoch, int b)
    {
        using var scope = NewDisposeScope();
        double value;
        bool updated;
        try
        {
            if (splitter is not null && SplitMicroBatch.Splits(batches[b]))
            {
                updated = splitter.Step(batches[b], out value);
            }
            else
            {
                var loss = batches[b].Loss();
                value = loss.ToDouble();
                updated = updater.Backward(loss);
            }

            if (!updated && b == batches.Count - 1)
                updated = updater.Flush();
        }
        catch (ArithmeticException e)
        {
            throw new ArithmeticException($"Training stopped at epoch {epoch}, micro-batch {b + 1} of {batches.Count}: {e.Message}", e);
        }

        if (double.IsFinite(value))
        {
            epochLossSum += value;
            epochLossCount++;
            intervalLossSum += value;
            intervalLossCount++;
        }

        examplesSeen += batches[b].Examples;
        if (updated)
            bestIsCurrent = false;
        return updated;
    }

    /// <summary>
    /// The fraction of the time budget spent since warmup ended (0 during warmup), so that a budget-bound run decays
    /// over the time it has left after warming up.
    /// </summary>
    private double TimeProgress(ParameterUpdater updater, TimeSpan budget)
    {
        if (updater.CompletedSteps < warmupSteps)
            return 0;
        warmupEnded ??= Elapsed;
        var left = budget - warmupEnded.Value;
        return left <= TimeSpan.Zero ? 1 : Math.Clamp((Elapsed - warmupEnded.Value) / left, 0, 1);
    }

    /// <summary>Reports, validates and checks the step and time limits after an update; returns why to stop, or null.</summary>
    private string? AfterUpdate(ParameterUpdater updater, int epoch)
    {
        long step = updater.CompletedSteps;
        if (step % options.ReportEvery == 0)
            Report(updater, epoch, null, epochCompleted: false);
        bool evaluated = false;
        if (options.EvaluateEvery > 0 && step % options.EvaluateEvery == 0 && task.Metric is not null)
        {
            Report(updater, epoch, Evaluate(updater, epoch), epochCompleted: false);
            evaluated = true;
            if (options.Patience > 0 && evaluationsWithoutGain >= options.Patience)
                return "early stopping";
        }

        string? stop = options.MaxSteps > 0 && step >= options.MaxSteps ? "steps"
            : options.TimeBudget is { } budget && Elapsed >= budget ? "time budget"
            : null;
        if (stop is not null && !evaluated && task.Metric is not null)
            Report(updater, epoch, Evaluate(updater, epoch), epochCompleted: false);
        return stop;
    }

    /// <summary>
    /// Validates, keeps the weights when they are the best so far, and counts evaluations without gain; a non-finite
    /// metric does neither.
    /// </summary>
    private double Evaluate(ParameterUpdater updater, int epoch)
    {
        double metric;
        model.eval();
        using (no_grad())
            metric = task.Validate();
        model.train();
        metrics.Add(metric);

        // A non-finite metric (NaN from an undefined correlation, an overflowing loss) says nothing about which weights
        // are better: it is recorded, but neither becomes the best nor counts towards patience.
        if (!double.IsFinite(metric))
            return metric;

        bool better = bestMetric is not { } previous || (task.Metric!.HigherIsBetter ? metric > previous : metric < previous);
        if (better)
        {
            bestMetric = metric;
            bestEpoch = epoch;
            evaluationsWithoutGain = 0;
            if (options.RestoreBest)
            {
                best.Keep(updater);
                bestIsCurrent = true;
            }
        }
        else
        {
            evaluationsWithoutGain++;
        }

        return metric;
    }

    private void Report(ParameterUpdater updater, int epoch, double? metric, bool epochCompleted)
    {
        if (intervalLossCount > 0)
        {
            lastTrainLoss = intervalLossSum / intervalLossCount;
            (intervalLossSum, intervalLossCount) = (0, 0);
        }

        if (options.Progress is null)
            return;
        var elapsed = Elapsed;
        double seconds = Math.Max(elapsed.TotalSeconds, 1e-9);
        long step = updater.CompletedSteps;
        var remaining = step == 0 ? TimeSpan.Zero : TimeSpan.FromSeconds(seconds / step * Math.Max(0, totalSteps - step));
        options.Progress.Report(new TrainingProgress(
            epoch, options.Epochs, step, totalSteps, lastTrainLoss, updater.LearningRate, examplesSeen / seconds, elapsed, remaining, metric, epochCompleted)
        {
            MetricName = task.Metric?.Name ?? ValidationMetric.Loss.Name,
        });
    }

    private void Checkpoint(string folder, int epoch, int nextMicroBatch, ParameterUpdater updater) =>
        new TrainingCheckpoint(
            options.Seed, task.ExampleCount, epoch, nextMicroBatch, epochLossSum, epochLossCount, intervalLossSum, intervalLossCount,
            lastTrainLoss, examplesSeen, Elapsed.TotalSeconds, warmupEnded?.TotalSeconds, losses, metrics, bestMetric, bestEpoch, bestIsCurrent,
            evaluationsWithoutGain) { Settings = TrainingCheckpoint.SettingsOf(options) }.Save(folder, updater, best.Tensors);

    private void Resume(TrainingCheckpoint checkpoint)
    {
        (epochLossSum, epochLossCount) = (checkpoint.EpochLossSum, checkpoint.EpochLossCount);
        (intervalLossSum, intervalLossCount) = (checkpoint.IntervalLossSum, checkpoint.IntervalLossCount);
        lastTrainLoss = checkpoint.LastTrainLoss;
        examplesSeen = checkpoint.ExamplesSeen;
        elapsedBefore = TimeSpan.FromSeconds(checkpoint.ElapsedSeconds);
        warmupEnded = checkpoint.WarmupEndedSeconds is { } s ? TimeSpan.FromSeconds(s) : null;
        losses.AddRange(checkpoint.Losses);
        metrics.AddRange(checkpoint.ValidationMetrics);
        (bestMetric, bestEpoch, bestIsCurrent, evaluationsWithoutGain) =
            (checkpoint.BestMetric, checkpoint.BestEpoch, checkpoint.BestIsCurrent, checkpoint.EvaluationsWithoutGain);
    }
}
