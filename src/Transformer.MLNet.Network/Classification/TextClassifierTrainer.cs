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
        CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(options);
        settings.Validate();
        options.Validate();
        if (scratchConfig is not null && encoderFolder is not null)
        {
            throw new ArgumentException(
                "Set either EncoderFolder (fine-tune that encoder) or ScratchConfig (train a new one), not both.", nameof(scratchConfig));
        }

        // Seed before the encoder (from scratch) and the head are created, so that their initial weights repeat too.
        Seeding.Apply(options.Seed);
        BertModel encoder;
        BertTextTokenizer tokenizer;
        if (scratchConfig is not null)
        {
            tokenizer = PretrainedBert.LoadMiniLmTokenizer();
            encoder = new BertModel(scratchConfig with { VocabSize = tokenizer.VocabularySize, PadTokenId = tokenizer.PadTokenId });
        }
        else
        {
            var pretrained = encoderFolder is null ? PretrainedBert.LoadMiniLm() : PretrainedBert.LoadFolder(encoderFolder);
            (encoder, tokenizer) = (pretrained.Model, pretrained.Tokenizer);
        }

        TextClassifier classifier;
        try
        {
            classifier = TextClassifier.Create(encoder, tokenizer, settings, device);
        }
        catch
        {
            encoder.Dispose();
            throw;
        }

        try
        {
            var trainOptions = scratchConfig is null ? options : options with { FreezeTokenEmbeddings = false };
            return (classifier, Train(classifier, texts, labels, trainOptions, validationTexts, validationLabels, cancellation));
        }
        catch
        {
            classifier.Dispose();
            throw;
        }
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
        CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(classifier);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        var train = Tokenize(classifier, texts, labels, nameof(texts));
        var validation = validationTexts is null ? null : Tokenize(classifier, validationTexts, validationLabels, nameof(validationTexts));
        if (train.Ids.Length == 0)
            throw new ArgumentException("The training set is empty.", nameof(texts));

        lock (classifier.Gate)
        {
            var frozen = options.FreezeTokenEmbeddings ? classifier.Model.TokenEmbeddings : null;
            frozen?.requires_grad_(false);
            try
            {
                var result = TrainingLoop.Run(new ClassificationTask(classifier, train, validation, options), options, cancellation);
                return result with { TruncatedExamples = train.TruncatedCount };
            }
            finally
            {
                frozen?.requires_grad_(true);
            }
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

        int truncated = 0;
        var ids = new int[texts.Count][];
        for (int i = 0; i < ids.Length; i++)
        {
            ids[i] = classifier.Tokenizer.EncodeToIds(texts[i] ?? string.Empty, classifier.Settings.MaxTokens, out bool cut);
            truncated += cut ? 1 : 0;
        }

        return new TokenizedSet(ids, labels.ToArray(), truncated);
    }

    private sealed record TokenizedSet(int[][] Ids, int[] Labels, int TruncatedCount);

    /// <summary>Classification as a training task: shuffled micro-batches of texts, accuracy as the validation metric.</summary>
    private sealed class ClassificationTask(TextClassifier classifier, TokenizedSet train, TokenizedSet? validation, ClassifierTrainingOptions options)
        : TrainingTask(classifier.Model, train.Ids.Length, (train.Ids.Length + options.BatchSize - 1) / options.BatchSize,
            validation is null ? null : ValidationMetric.Accuracy)
    {
        private readonly Random random = new(options.Seed);

        public override IReadOnlyList<MicroBatch> Epoch(int epoch)
        {
            int[] order = Enumerable.Range(0, train.Ids.Length).ToArray();
            random.Shuffle(order);
            return [.. order.Chunk(options.BatchSize).Select(rows => new MicroBatch(rows.Length, () => Loss(rows)))];
        }

        public override double Validate() => Accuracy(classifier, validation!);

        private Tensor Loss(int[] rows)
        {
            var logits = classifier.Logits(rows.Select(r => train.Ids[r]).ToList());                                    // (B, C)
            var targets = tensor(rows.Select(r => (long)train.Labels[r]).ToArray(), device: classifier.Device);          // (B)
            return LabelSmoothedCrossEntropy.Compute(logits, targets, options.Optimization.LabelSmoothing);
        }
    }
}
