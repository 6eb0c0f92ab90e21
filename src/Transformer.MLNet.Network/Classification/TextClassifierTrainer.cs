using TorchSharp;
using Transformer.MLNet.Network.Bert;
using Transformer.MLNet.Network.Configuration;
using Transformer.MLNet.Network.Pretrained;
using Transformer.MLNet.Network.Tokenization;
using Transformer.MLNet.Network.Training;
using static TorchSharp.torch;

namespace Transformer.MLNet.Network.Classification;

/// <summary>
/// Trains a <see cref="TextClassifier"/> on the one <see cref="TrainingLoop"/>: the task tokenizes texts, shuffles
/// them each epoch into micro-batches under cross-entropy, and validates by accuracy. Texts and labels come in as
/// managed arrays.
/// </summary>
public static class TextClassifierTrainer
{
    /// <summary>Batches per length-sorted training window: enough to pad little, few enough to keep batches varied.</summary>
    internal const int WindowBatches = 8;

    private const int EvaluationBatchSize = 64;

    /// <summary>
    /// The classification entry point: builds a classifier on the chosen encoder (the packaged MiniLM-L6, a Hugging
    /// Face folder, or a new encoder of <paramref name="scratchConfig"/> with the MiniLM vocabulary), seeded so that
    /// its new weights repeat, moves it to <paramref name="device"/> and trains it.
    /// </summary>
    /// <param name="encoderFolder">A Hugging Face BERT folder to fine-tune, or null for the packaged MiniLM-L6.</param>
    /// <param name="scratchConfig">Train a new encoder of this shape instead of fine-tuning one; not with <paramref name="encoderFolder"/>.</param>
    /// <param name="settings">Classes, token limit and dropout of the head.</param>
    /// <param name="texts">Training texts.</param>
    /// <param name="labels">Class of each text, in [0, ClassCount).</param>
    /// <param name="options">Training settings; <see cref="TrainingLoopOptions.Seed"/> also seeds the new weights.</param>
    /// <param name="validationTexts">Optional validation texts.</param>
    /// <param name="validationLabels">Their classes.</param>
    /// <param name="device">Where to train; null for the CPU.</param>
    /// <param name="cancellation">Stops training with <see cref="OperationCanceledException"/>.</param>
    /// <returns>The trained classifier (the caller owns it) and what training did.</returns>
    /// <exception cref="ArgumentException">Both an encoder folder and a scratch config, or invalid options or labels.</exception>
    public static (TextClassifier Classifier, TrainingResult Result) Fit(
        string? encoderFolder,
        TransformerConfig? scratchConfig,
        TextClassifierSettings settings,
        IReadOnlyList<string> texts,
        IReadOnlyList<int> labels,
        ClassifierTrainingOptions options,
        IReadOnlyList<string>? validationTexts = null,
        IReadOnlyList<int>? validationLabels = null,
        Device? device = null,
        CancellationToken cancellation = default) =>
        Fit(encoderFolder, scratchConfig, settings, new TextExamples(texts) { Labels = labels }, options,
            validationTexts is null ? null : new TextExamples(validationTexts) { Labels = validationLabels }, device, cancellation);

    /// <summary>
    /// The entry point for every head: classification or regression, on single texts or text pairs (a cross-encoder is
    /// a regression head on pairs). As the other overload; a regression head's targets are standardised with the
    /// training targets' mean and standard deviation, which the returned model's settings record.
    /// </summary>
    /// <param name="encoderFolder">A Hugging Face BERT folder to fine-tune, or null for the packaged MiniLM-L6.</param>
    /// <param name="scratchConfig">Train a new encoder of this shape instead; not with <paramref name="encoderFolder"/>.</param>
    /// <param name="settings">Head and input settings: classes or <see cref="TextClassifierSettings.Regression"/>, <see cref="TextClassifierSettings.Pairs"/>.</param>
    /// <param name="train">Training texts or pairs with labels (classification) or targets (regression).</param>
    /// <param name="options">Training settings; <see cref="TrainingLoopOptions.Seed"/> also seeds the new weights.</param>
    /// <param name="validation">Optional validation examples of the same kind.</param>
    /// <param name="device">Where to train; null for the CPU.</param>
    /// <param name="cancellation">Stops training with <see cref="OperationCanceledException"/>.</param>
    /// <returns>The trained model (the caller owns it) and what training did.</returns>
    public static (TextClassifier Classifier, TrainingResult Result) Fit(
        string? encoderFolder,
        TransformerConfig? scratchConfig,
        TextClassifierSettings settings,
        TextExamples train,
        ClassifierTrainingOptions options,
        TextExamples? validation = null,
        Device? device = null,
        CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(train);
        settings.Validate();
        options.Validate();
        EncoderStart.CheckChoice(encoderFolder, scratchConfig);

        if (settings.Regression)
            settings = Standardise(settings, train);

        // Seed before the encoder (from scratch) and the head are created, so that their initial weights repeat too.
        Seeding.Apply(options.Seed);
        return EncoderStart.BuildAndTrain(
            encoderFolder, scratchConfig,
            (encoder, tokenizer) => TextClassifier.Create(encoder, tokenizer, settings, device),
            (classifier, scratch) => Train(classifier, train, scratch ? options with { FreezeTokenEmbeddings = false } : options, validation, cancellation));
    }

    /// <summary>The settings with the training targets' mean and standard deviation.</summary>
    private static TextClassifierSettings Standardise(TextClassifierSettings settings, TextExamples train)
    {
        var targets = train.Targets ?? throw new ArgumentException("A regression head needs TextExamples.Targets.", nameof(train));
        if (targets.Count == 0)
            throw new ArgumentException("The training set is empty.", nameof(train));
        double mean = targets.Average(t => (double)t);
        double std = Math.Sqrt(targets.Average(t => (t - mean) * (t - mean)));
        return settings with { TargetMean = double.IsFinite(mean) ? mean : 0, TargetScale = std > 0 && double.IsFinite(std) ? std : 1 };
    }

    /// <summary>Trains <paramref name="classifier"/> in place.</summary>
    /// <param name="classifier">The classifier; its weights are updated.</param>
    /// <param name="texts">Training texts.</param>
    /// <param name="labels">Class of each text, in [0, ClassCount).</param>
    /// <param name="options">Epochs, batch size, optimizer, schedule, precision, checkpoints and progress.</param>
    /// <param name="validationTexts">Optional validation texts for early stopping and best-weight restore.</param>
    /// <param name="validationLabels">Their classes.</param>
    /// <param name="cancellation">Stops training between micro-batches with <see cref="OperationCanceledException"/> (after writing a checkpoint when <see cref="TrainingLoopOptions.CheckpointFolder"/> is set).</param>
    /// <returns>What training did; <see cref="TrainingResult.ValidationMetrics"/> are accuracies.</returns>
    public static TrainingResult Train(
        TextClassifier classifier,
        IReadOnlyList<string> texts,
        IReadOnlyList<int> labels,
        ClassifierTrainingOptions options,
        IReadOnlyList<string>? validationTexts = null,
        IReadOnlyList<int>? validationLabels = null,
        CancellationToken cancellation = default) =>
        Train(classifier, new TextExamples(texts) { Labels = labels }, options,
            validationTexts is null ? null : new TextExamples(validationTexts) { Labels = validationLabels }, cancellation);

    /// <summary>Trains <paramref name="classifier"/> in place on texts or pairs, with labels or (for a regression head) targets.</summary>
    /// <param name="classifier">The model; its weights are updated.</param>
    /// <param name="train">Training examples.</param>
    /// <param name="options">Epochs, batch size, optimizer, schedule, precision, checkpoints and progress.</param>
    /// <param name="validation">Optional validation examples: accuracy (classification) or root mean squared error (regression) is the metric.</param>
    /// <param name="cancellation">Stops training between micro-batches with <see cref="OperationCanceledException"/>.</param>
    /// <returns>What training did.</returns>
    public static TrainingResult Train(
        TextClassifier classifier,
        TextExamples train,
        ClassifierTrainingOptions options,
        TextExamples? validation = null,
        CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(classifier);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(train);
        options.Validate();
        CheckPairOptions(classifier, train, options);
        var trainSet = Augment(classifier, train, options, Tokenize(classifier, train, "texts"));
        var validationSet = validation is null ? null : Tokenize(classifier, validation, "validationTexts");
        if (trainSet.Inputs.Length == 0)
            throw new ArgumentException("The training set is empty.", nameof(train));

        lock (classifier.Gate)
        {
            var frozen = options.FreezeTokenEmbeddings ? classifier.Model.TokenEmbeddings : null;
            frozen?.requires_grad_(false);
            try
            {
                var result = TrainingLoop.Run(new ClassificationTask(classifier, trainSet, validationSet, options), options, cancellation);
                return result with { TruncatedExamples = trainSet.TruncatedCount };
            }
            finally
            {
                frozen?.requires_grad_(true);
            }
        }
    }

    private static void CheckPairOptions(TextClassifier classifier, TextExamples train, ClassifierTrainingOptions options)
    {
        if (options.SymmetricPairs && !classifier.Settings.Pairs)
        {
            throw new ArgumentException(
                "SymmetricPairs swaps the two texts of each pair, but this model reads single texts; train on pairs or leave SymmetricPairs off.",
                nameof(options));
        }

        if (options.UnrelatedPairFraction > 0 && !(classifier.Settings.Pairs && classifier.Settings.Regression))
        {
            throw new ArgumentException(
                "UnrelatedPairFraction adds random pairings labelled with the smallest target, which needs a regression head on text pairs; " +
                "leave it 0 for classifiers and single texts.", nameof(options));
        }

        if (options.UnrelatedPairFraction > 0 && train.Count < 2)
            throw new ArgumentException("UnrelatedPairFraction needs at least 2 training pairs to pair texts of different pairs.", nameof(train));
    }

    /// <summary>
    /// The training examples of every epoch: the pairs as given, their swapped copies (<see cref="ClassifierTrainingOptions.SymmetricPairs"/>),
    /// and one block of random pairings per planned epoch (<see cref="ClassifierTrainingOptions.UnrelatedPairFraction"/>).
    /// </summary>
    private static TokenizedSet Augment(TextClassifier classifier, TextExamples train, ClassifierTrainingOptions options, TokenizedSet given)
    {
        if (!options.SymmetricPairs && options.UnrelatedPairFraction == 0)
            return given;
        var inputs = new List<EncodedText>(given.Inputs);
        var targets = given.Targets is null ? null : new List<float>(given.Targets);
        var labels = given.Labels is null ? null : new List<int>(given.Labels);
        int truncated = given.TruncatedCount;
        if (options.SymmetricPairs)
        {
            var swapped = Tokenize(classifier, new TextExamples(train.SecondTexts!, train.Texts) { Labels = train.Labels, Targets = train.Targets }, "texts");
            inputs.AddRange(swapped.Inputs);
            targets?.AddRange(swapped.Targets!);
            labels?.AddRange(swapped.Labels!);
            truncated += swapped.TruncatedCount;
        }

        int perEpoch = 0;
        if (options.UnrelatedPairFraction > 0)
        {
            perEpoch = (int)Math.Ceiling(options.UnrelatedPairFraction * train.Count);
            var random = new Random(HashCode.Combine(options.Seed, 0x5eed));
            var firsts = new List<string>();
            var seconds = new List<string>();
            for (int n = 0; n < perEpoch * options.Epochs; n++)
            {
                int i = random.Next(train.Count);
                int j = random.Next(train.Count);
                // Another pair's second text, and not a copy of this pair's texts (data sets repeat sentences).
                for (int tries = 0; tries < 16 && (j == i || SameText(train.SecondTexts![j], train.SecondTexts[i]) || SameText(train.SecondTexts[j], train.Texts[i])); tries++)
                    j = random.Next(train.Count);
                firsts.Add(train.Texts[i]);
                seconds.Add(train.SecondTexts![j]);
            }

            float lowest = given.Targets!.Min();
            var unrelated = classifier.Encode(firsts, seconds, "texts", out int cut);
            truncated += cut;
            inputs.AddRange(unrelated);
            targets!.AddRange(Enumerable.Repeat(lowest, unrelated.Length));
        }

        return new TokenizedSet([.. inputs], labels?.ToArray(), targets?.ToArray(), truncated)
        {
            GivenCount = given.Inputs.Length * (options.SymmetricPairs ? 2 : 1),
            UnrelatedPerEpoch = perEpoch,
        };
    }

    private static bool SameText(string a, string b) => string.Equals(a?.Trim(), b?.Trim(), StringComparison.OrdinalIgnoreCase);

    /// <summary>Fraction of <paramref name="texts"/> whose most likely class is the label.</summary>
    /// <param name="classifier">The classifier.</param>
    /// <param name="texts">Texts.</param>
    /// <param name="labels">Their classes.</param>
    public static double Accuracy(TextClassifier classifier, IReadOnlyList<string> texts, IReadOnlyList<int> labels)
    {
        ArgumentNullException.ThrowIfNull(classifier);
        lock (classifier.Gate)
            return Validate(classifier, Tokenize(classifier, new TextExamples(texts) { Labels = labels }, nameof(texts)));
    }

    /// <summary>Accuracy of a classifier, or root mean squared error (in standardised units) of a regression head.</summary>
    private static double Validate(TextClassifier classifier, TokenizedSet set)
    {
        if (set.Inputs.Length == 0)
            return double.NaN;
        bool wasTraining = classifier.Model.training;
        classifier.Model.eval();
        double sum = 0;
        using (no_grad())
        {
            for (int start = 0; start < set.Inputs.Length; start += EvaluationBatchSize)
            {
                using var scope = NewDisposeScope();
                int count = Math.Min(EvaluationBatchSize, set.Inputs.Length - start);
                var logits = classifier.Logits(set.Inputs.AsSpan(start, count).ToArray()).cpu();                          // (B, C)
                if (set.Targets is { } targets)
                {
                    var expected = tensor(targets.AsSpan(start, count).ToArray());                                         // (B)
                    sum += (logits.squeeze(1) - expected).square().sum().ToDouble();
                }
                else
                {
                    var expected = tensor(set.Labels!.AsSpan(start, count).ToArray().Select(l => (long)l).ToArray());      // (B)
                    sum += logits.argmax(1).eq(expected).sum().ToInt64();
                }
            }
        }

        classifier.Model.train(wasTraining);
        return set.Targets is null ? sum / set.Inputs.Length : Math.Sqrt(sum / set.Inputs.Length);
    }

    private static TokenizedSet Tokenize(TextClassifier classifier, TextExamples examples, string name)
    {
        ArgumentNullException.ThrowIfNull(examples, name);
        ArgumentNullException.ThrowIfNull(examples.Texts, name);
        int count = examples.Texts.Count;
        float[]? targets = null;
        int[]? labels = null;
        if (classifier.Settings.Regression)
        {
            var raw = examples.Targets;
            if (raw is null || raw.Count != count)
                throw new ArgumentException($"{name} has {count} inputs but {raw?.Count ?? 0} targets; give one target per input.", name);
            targets = new float[count];
            for (int i = 0; i < count; i++)
            {
                if (!float.IsFinite(raw[i]))
                    throw new ArgumentOutOfRangeException(name, raw[i], $"The target of row {i} is {raw[i]}; every regression target must be a finite number.");
                targets[i] = (float)((raw[i] - classifier.Settings.TargetMean) / classifier.Settings.TargetScale);
            }
        }
        else
        {
            var raw = examples.Labels;
            if (raw is null || raw.Count != count)
                throw new ArgumentException($"{name} has {count} texts but {raw?.Count ?? 0} labels; give one label per text.", name);
            for (int i = 0; i < count; i++)
            {
                if (raw[i] < 0 || raw[i] >= classifier.ClassCount)
                {
                    throw new ArgumentOutOfRangeException(name, raw[i],
                        $"Label {raw[i]} of row {i} is outside [0, {classifier.ClassCount}) for a {classifier.ClassCount}-class classifier.");
                }
            }

            labels = [.. raw];
        }

        var inputs = classifier.Encode(examples.Texts, examples.SecondTexts, name, out int truncated);
        return new TokenizedSet(inputs, labels, targets, truncated);
    }

    /// <summary>Tokenized examples: classes for classification, standardised targets for regression. After <see cref="Augment"/>, the first <see cref="GivenCount"/> are trained on every epoch and
    /// the rest are blocks of <see cref="UnrelatedPerEpoch"/> random pairings, one block per epoch.</summary>
    private sealed record TokenizedSet(EncodedText[] Inputs, int[]? Labels, float[]? Targets, int TruncatedCount)
    {
        public int GivenCount { get; init; } = Inputs.Length;

        public int UnrelatedPerEpoch { get; init; }

        public int PerEpoch => GivenCount + UnrelatedPerEpoch;
    }

    /// <summary>
    /// Classification or regression as a training task: length-bucketed micro-batches of texts or pairs under cross-entropy
    /// (classes) or squared error (standardised targets); accuracy or root mean squared error as the validation metric.
    /// </summary>
    private sealed class ClassificationTask(TextClassifier classifier, TokenizedSet train, TokenizedSet? validation, ClassifierTrainingOptions options)
        : TrainingTask(classifier.Model, train.PerEpoch, BatchCount(train.PerEpoch, options.BatchSize),
            validation is null ? null : classifier.Settings.Regression ? ValidationMetric.RootMeanSquaredError : ValidationMetric.Accuracy)
    {
        private readonly Random random = new(options.Seed);

        public override IReadOnlyList<MicroBatch> Epoch(int epoch)
        {
            var rows = Enumerable.Range(0, train.GivenCount).ToList();
            if (train.UnrelatedPerEpoch > 0)
            {
                int blocks = (train.Inputs.Length - train.GivenCount) / train.UnrelatedPerEpoch;
                int start = train.GivenCount + epoch % blocks * train.UnrelatedPerEpoch;
                rows.AddRange(Enumerable.Range(start, train.UnrelatedPerEpoch));
            }

            int Length(int row) => train.Inputs[row].Ids.Length;
            return [.. LengthBuckets.Batches(rows, r => Length(r), options.BatchSize, WindowBatches, random)
                .Select(batch => new MicroBatch(batch.Length, () => Loss(batch), (start, end) => new PartLoss(Loss(batch[start..end]), end - start),
                    [.. batch.Select(Length)]))];
        }

        public override double Validate() => TextClassifierTrainer.Validate(classifier, validation!);

        private Tensor Loss(int[] rows)
        {
            var logits = classifier.Logits(rows.Select(r => train.Inputs[r]).ToList());                                  // (B, C)
            if (train.Targets is { } targets)
            {
                var expected = tensor(rows.Select(r => targets[r]).ToArray(), device: classifier.Device);                 // (B)
                return nn.functional.mse_loss(logits.squeeze(1).to_type(ScalarType.Float32), expected);
            }

            var classes = tensor(rows.Select(r => (long)train.Labels![r]).ToArray(), device: classifier.Device);          // (B)
            return LabelSmoothedCrossEntropy.Compute(logits, classes, options.Optimization.LabelSmoothing);
        }
    }
}
