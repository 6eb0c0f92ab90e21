using System.Diagnostics;
using TorchSharp;
using Transformer.MLNet.Network.Training;
using static TorchSharp.torch;

namespace Transformer.MLNet.Network.Classification;

/// <summary>
/// Trains a <see cref="TextClassifier"/>: AdamW with warmup and decay, gradient clipping and accumulation (through
/// <see cref="ParameterUpdater"/>), optional validation with early stopping and restore of the best epoch,
/// cancellation and progress reports. Texts and labels come in as managed arrays.
/// </summary>
public static class TextClassifierTrainer
{
    private const int EvaluationBatchSize = 64;

    /// <summary>Trains <paramref name="classifier"/> in place.</summary>
    /// <param name="classifier">The classifier; its weights are updated.</param>
    /// <param name="texts">Training texts.</param>
    /// <param name="labels">Class of each text, in [0, ClassCount).</param>
    /// <param name="options">Epochs, batch size, optimizer and schedule.</param>
    /// <param name="validationTexts">Optional validation texts for early stopping and best-epoch restore.</param>
    /// <param name="validationLabels">Their classes.</param>
    /// <param name="progress">Receives a report every <see cref="ClassifierTrainingOptions.ProgressInterval"/> updates and at each epoch's end.</param>
    /// <param name="cancellationToken">Stops training between micro-batches with <see cref="OperationCanceledException"/>.</param>
    /// <returns>Epochs run, the epoch kept, and the per-epoch metrics.</returns>
    public static ClassifierTrainingResult Train(
        TextClassifier classifier,
        IReadOnlyList<string> texts,
        IReadOnlyList<int> labels,
        ClassifierTrainingOptions options,
        IReadOnlyList<string>? validationTexts = null,
        IReadOnlyList<int>? validationLabels = null,
        IProgress<ClassifierTrainingProgress>? progress = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(classifier);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        var train = Tokenize(classifier, texts, labels, nameof(texts));
        var validation = validationTexts is null ? null : Tokenize(classifier, validationTexts, validationLabels, nameof(validationTexts));
        if (train.Ids.Length == 0)
            throw new ArgumentException("The training set is empty.", nameof(texts));

        var random = Seeding.Apply(options.Seed);
        int microBatches = (train.Ids.Length + options.BatchSize - 1) / options.BatchSize;
        int accumulation = options.Optimizer.AccumulationSteps;
        long stepsPerEpoch = (microBatches + accumulation - 1) / accumulation;
        long totalSteps = stepsPerEpoch * options.Epochs;
        var optimizerOptions = options.Optimizer with { WarmupSteps = (long)Math.Round(options.WarmupFraction * totalSteps) };

        var model = classifier.Model;
        var validationAccuracies = new List<double>();
        var losses = new List<double>();
        Dictionary<string, Tensor>? best = null;
        double bestAccuracy = double.NegativeInfinity;
        int bestEpoch = 0, epochsRun = 0, epochsWithoutGain = 0;
        var clock = Stopwatch.StartNew();
        long examplesSeen = 0;

        lock (classifier.Gate)
        {
            var frozen = options.FreezeTokenEmbeddings ? model.TokenEmbeddings : null;
            frozen?.requires_grad_(false);
            try
            {
                using var updater = new ParameterUpdater(model, optimizerOptions, totalSteps: totalSteps);
                for (int epoch = 1; epoch <= options.Epochs; epoch++)
                {
                    model.train();
                    int[] order = Enumerable.Range(0, train.Ids.Length).ToArray();
                    random.Shuffle(order);
                    double lossSum = 0;
                    int lossCount = 0;
                    double lastRate = updater.LearningRate;
                    for (int b = 0; b < microBatches; b++)
                    {
                        cancellationToken.ThrowIfCancellationRequested();
                        var rows = order.AsSpan(b * options.BatchSize, Math.Min(options.BatchSize, order.Length - b * options.BatchSize)).ToArray();
                        using (var scope = NewDisposeScope())
                        {
                            var logits = classifier.Logits(rows.Select(r => train.Ids[r]).ToList());                  // (B, C)
                            var targets = tensor(rows.Select(r => (long)train.Labels[r]).ToArray(), device: classifier.Device); // (B)
                            var loss = LabelSmoothedCrossEntropy.Compute(logits, targets, optimizerOptions.LabelSmoothing);
                            lastRate = updater.LearningRate;
                            lossSum += loss.ToDouble();
                            lossCount++;
                            bool updated = updater.Backward(loss);
                            if (!updated && b == microBatches - 1)
                                updated = updater.Flush();
                            examplesSeen += rows.Length;
                            if (updated && updater.CompletedSteps % options.ProgressInterval == 0)
                                progress?.Report(Report(epoch, updater.CompletedSteps, lossSum / lossCount, lastRate, null, false));
                        }
                    }

                    epochsRun = epoch;
                    losses.Add(lossSum / lossCount);
                    double? accuracy = null;
                    if (validation is not null)
                    {
                        accuracy = Accuracy(classifier, validation);
                        validationAccuracies.Add(accuracy.Value);
                    }

                    progress?.Report(Report(epoch, updater.CompletedSteps, lossSum / lossCount, lastRate, accuracy, true));
                    if (accuracy is null)
                    {
                        bestEpoch = epoch;
                        continue;
                    }

                    if (accuracy.Value > bestAccuracy)
                    {
                        bestAccuracy = accuracy.Value;
                        bestEpoch = epoch;
                        epochsWithoutGain = 0;
                        if (options.RestoreBestEpoch && epoch < options.Epochs)
                            best = Snapshot(model, best);
                        else if (best is not null)
                            DisposeAll(ref best);
                    }
                    else if (options.EarlyStoppingPatience > 0 && ++epochsWithoutGain >= options.EarlyStoppingPatience)
                    {
                        break;
                    }
                }

                if (options.RestoreBestEpoch && best is not null && bestEpoch != epochsRun)
                {
                    using var noGrad = no_grad();
                    model.load_state_dict(best);
                }
            }
            finally
            {
                if (best is not null)
                    DisposeAll(ref best);
                frozen?.requires_grad_(true);
                model.eval();
            }
        }

        return new ClassifierTrainingResult(epochsRun, bestEpoch, validationAccuracies, losses);

        ClassifierTrainingProgress Report(int epoch, long step, double loss, double rate, double? accuracy, bool epochEnd)
        {
            double seconds = Math.Max(clock.Elapsed.TotalSeconds, 1e-9);
            var remaining = step == 0 ? TimeSpan.Zero : TimeSpan.FromSeconds(seconds / step * Math.Max(0, totalSteps - step));
            return new ClassifierTrainingProgress(
                epoch, options.Epochs, step, totalSteps, loss, rate, examplesSeen / seconds, clock.Elapsed, remaining, accuracy, epochEnd);
        }
    }

    /// <summary>Fraction of <paramref name="texts"/> whose most likely class is the label.</summary>
    /// <param name="classifier">The classifier.</param>
    /// <param name="texts">Texts.</param>
    /// <param name="labels">Their classes.</param>
    public static double Accuracy(TextClassifier classifier, IReadOnlyList<string> texts, IReadOnlyList<int> labels)
    {
        ArgumentNullException.ThrowIfNull(classifier);
        lock (classifier.Gate)
            return Accuracy(classifier, Tokenize(classifier, texts, labels, nameof(texts)));
    }

    private static double Accuracy(TextClassifier classifier, TokenizedSet set)
    {
        if (set.Ids.Length == 0)
            return double.NaN;
        bool wasTraining = classifier.Model.training;
        classifier.Model.eval();
        long correct = 0;
        using (no_grad())
        {
            for (int start = 0; start < set.Ids.Length; start += EvaluationBatchSize)
            {
                using var scope = NewDisposeScope();
                int count = Math.Min(EvaluationBatchSize, set.Ids.Length - start);
                var predicted = classifier.Logits(set.Ids.AsSpan(start, count).ToArray()).argmax(1).cpu();   // (B, C) -> (B)
                var targets = tensor(set.Labels.AsSpan(start, count).ToArray().Select(l => (long)l).ToArray()); // (B)
                correct += predicted.eq(targets).sum().ToInt64();
            }
        }

        classifier.Model.train(wasTraining);
        return (double)correct / set.Ids.Length;
    }

    private static TokenizedSet Tokenize(TextClassifier classifier, IReadOnlyList<string> texts, IReadOnlyList<int>? labels, string name)
    {
        ArgumentNullException.ThrowIfNull(texts, name);
        if (labels is null || labels.Count != texts.Count)
            throw new ArgumentException($"{name} has {texts.Count} texts but {labels?.Count ?? 0} labels; give one label per text.", name);
        for (int i = 0; i < labels.Count; i++)
        {
            if (labels[i] < 0 || labels[i] >= classifier.ClassCount)
            {
                throw new ArgumentOutOfRangeException(name, labels[i],
                    $"Label {labels[i]} of row {i} is outside [0, {classifier.ClassCount}) for a {classifier.ClassCount}-class classifier.");
            }
        }

        var ids = texts.Select(t => classifier.Tokenizer.EncodeToIds(t ?? string.Empty, classifier.Settings.MaxTokens, out _)).ToArray();
        return new TokenizedSet(ids, labels.ToArray());
    }

    private static Dictionary<string, Tensor> Snapshot(nn.Module model, Dictionary<string, Tensor>? previous)
    {
        if (previous is not null)
            DisposeAll(ref previous);
        using var noGrad = no_grad();
        return model.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.detach().clone().DetachFromDisposeScope());
    }

    private static void DisposeAll(ref Dictionary<string, Tensor>? tensors)
    {
        foreach (var t in tensors!.Values)
            t.Dispose();
        tensors = null;
    }

    private sealed record TokenizedSet(int[][] Ids, int[] Labels);
}
