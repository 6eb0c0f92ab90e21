using TorchSharp;
using Transformer.MLNet.Network.Bert;
using Transformer.MLNet.Network.Configuration;
using Transformer.MLNet.Network.Metrics;
using Transformer.MLNet.Network.Pretrained;
using Transformer.MLNet.Network.Tokenization;
using Transformer.MLNet.Network.Training;
using static TorchSharp.torch;

namespace Transformer.MLNet.Network.TokenClassification;

/// <summary>
/// Trains a <see cref="TokenClassifier"/> on the one <see cref="TrainingLoop"/>: the task tokenizes sentences word by
/// word, groups sentences of similar length into micro-batches (shuffled each epoch), takes the cross-entropy at each
/// word's first piece only (the other pieces are ignored by the loss), and validates by entity micro-F1. Sentences and
/// labels come in as managed arrays.
/// </summary>
public static class TokenClassifierTrainer
{
    private const int EvaluationBatchSize = 64;

    // Micro-batches are drawn from windows of this many batches' worth of shuffled sentences, sorted by length.
    private const int BucketBatches = 8;

    /// <summary>The validation metric: entity micro-F1, higher is better.</summary>
    internal static ValidationMetric EntityF1 { get; } = new("entity_f1", HigherIsBetter: true);

    /// <summary>
    /// The token-classification entry point: builds a classifier on the chosen encoder (the packaged MiniLM-L6, a
    /// Hugging Face folder, or a new encoder of <paramref name="scratchConfig"/> with the MiniLM vocabulary), seeded so
    /// that its new weights repeat, moves it to <paramref name="device"/> and trains it.
    /// </summary>
    /// <param name="encoderFolder">A Hugging Face BERT folder to fine-tune, or null for the packaged MiniLM-L6.</param>
    /// <param name="scratchConfig">Train a new encoder of this shape instead of fine-tuning one; not with <paramref name="encoderFolder"/>.</param>
    /// <param name="settings">Labels, token limit and dropout of the head.</param>
    /// <param name="sentences">Training sentences as words.</param>
    /// <param name="labels">One label index per word, in [0, Labels.Count).</param>
    /// <param name="options">Training settings; <see cref="TrainingLoopOptions.Seed"/> also seeds the new weights.</param>
    /// <param name="validationSentences">Optional validation sentences.</param>
    /// <param name="validationLabels">Their labels.</param>
    /// <param name="device">Where to train; null for the CPU.</param>
    /// <param name="cancellation">Stops training with <see cref="OperationCanceledException"/>.</param>
    /// <returns>The trained classifier (the caller owns it) and what training did.</returns>
    /// <exception cref="ArgumentException">Both an encoder folder and a scratch config, invalid options, or a sentence whose labels do not fit it.</exception>
    public static (TokenClassifier Classifier, TrainingResult Result) Fit(
        string? encoderFolder,
        TransformerConfig? scratchConfig,
        TokenClassifierSettings settings,
        IReadOnlyList<IReadOnlyList<string>> sentences,
        IReadOnlyList<IReadOnlyList<int>> labels,
        TokenClassifierTrainingOptions options,
        IReadOnlyList<IReadOnlyList<string>>? validationSentences = null,
        IReadOnlyList<IReadOnlyList<int>>? validationLabels = null,
        Device? device = null,
        CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(options);
        settings.Validate();
        options.Validate();
        EncoderStart.CheckChoice(encoderFolder, scratchConfig);

        CheckLabels(sentences, labels, settings.Labels.Count, nameof(sentences));
        if (validationSentences is not null)
            CheckLabels(validationSentences, validationLabels, settings.Labels.Count, nameof(validationSentences));

        Seeding.Apply(options.Seed);
        return EncoderStart.BuildAndTrain(
            encoderFolder, scratchConfig,
            (encoder, tokenizer) => TokenClassifier.Create(encoder, tokenizer, settings, device),
            (classifier, scratch) => Train(classifier, sentences, labels, scratch ? options with { FreezeTokenEmbeddings = false } : options, validationSentences, validationLabels, cancellation));
    }

    /// <summary>Trains <paramref name="classifier"/> in place.</summary>
    /// <param name="classifier">The classifier; its weights are updated.</param>
    /// <param name="sentences">Training sentences as words.</param>
    /// <param name="labels">One label index per word.</param>
    /// <param name="options">Epochs, batch size, optimizer, schedule, precision, checkpoints and progress.</param>
    /// <param name="validationSentences">Optional validation sentences for early stopping and best-weight restore.</param>
    /// <param name="validationLabels">Their labels.</param>
    /// <param name="cancellation">Stops training between micro-batches with <see cref="OperationCanceledException"/>.</param>
    /// <returns>What training did; <see cref="TrainingResult.ValidationMetrics"/> are entity micro-F1 scores.</returns>
    public static TrainingResult Train(
        TokenClassifier classifier,
        IReadOnlyList<IReadOnlyList<string>> sentences,
        IReadOnlyList<IReadOnlyList<int>> labels,
        TokenClassifierTrainingOptions options,
        IReadOnlyList<IReadOnlyList<string>>? validationSentences = null,
        IReadOnlyList<IReadOnlyList<int>>? validationLabels = null,
        CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(classifier);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        CheckLabels(sentences, labels, classifier.Labels.Count, nameof(sentences));
        if (sentences.Count == 0)
            throw new ArgumentException("The training set is empty.", nameof(sentences));
        if (validationSentences is not null)
            CheckLabels(validationSentences, validationLabels, classifier.Labels.Count, nameof(validationSentences));

        var train = sentences.Select(classifier.Encode).ToArray();
        var validation = validationSentences is null ? null : new ValidationSet(validationSentences, validationLabels!);
        lock (classifier.Gate)
        {
            var frozen = options.FreezeTokenEmbeddings ? classifier.Model.TokenEmbeddings : null;
            frozen?.requires_grad_(false);
            try
            {
                var result = TrainingLoop.Run(new TaggingTask(classifier, train, labels, validation, options), options, cancellation);
                return result with { TruncatedExamples = train.Count(s => s.Truncated) };
            }
            finally
            {
                frozen?.requires_grad_(true);
            }
        }
    }

    /// <summary>Entity-level scores of the classifier on labelled sentences (exact spans, as seqeval and conlleval count).</summary>
    /// <param name="classifier">The classifier.</param>
    /// <param name="sentences">Sentences as words.</param>
    /// <param name="labels">Their reference labels.</param>
    public static EntityScores Evaluate(TokenClassifier classifier, IReadOnlyList<IReadOnlyList<string>> sentences, IReadOnlyList<IReadOnlyList<int>> labels)
    {
        ArgumentNullException.ThrowIfNull(classifier);
        CheckLabels(sentences, labels, classifier.Labels.Count, nameof(sentences));
        return Score(classifier, classifier.Predict(sentences, EvaluationBatchSize), labels);
    }

    private static EntityScores Score(TokenClassifier classifier, TaggedSentence[] predicted, IReadOnlyList<IReadOnlyList<int>> labels) =>
        EntityScores.FromIob2(
            [.. labels.Select(row => (IReadOnlyList<string>)[.. row.Select(l => classifier.Labels[l])])],
            [.. predicted.Select(p => (IReadOnlyList<string>)[.. p.Labels.Select(l => classifier.Labels[l])])]);

    /// <summary>Checks that every sentence has words, one label per word, and labels in range; errors name the row.</summary>
    private static void CheckLabels(IReadOnlyList<IReadOnlyList<string>> sentences, IReadOnlyList<IReadOnlyList<int>>? labels, int labelCount, string name)
    {
        ArgumentNullException.ThrowIfNull(sentences, name);
        if (labels is null || labels.Count != sentences.Count)
            throw new ArgumentException($"{name} has {sentences.Count} sentences but {labels?.Count ?? 0} label rows; give one label row per sentence.", name);
        for (int row = 0; row < sentences.Count; row++)
        {
            var words = sentences[row] ?? throw new ArgumentException($"Sentence {row} of {name} is null.", name);
            var tags = labels[row] ?? throw new ArgumentException($"The labels of sentence {row} of {name} are null.", name);
            if (words.Count == 0)
                throw new ArgumentException($"Sentence {row} of {name} has no words; remove empty sentences from the training data.", name);
            if (words.Count != tags.Count)
                throw new ArgumentException($"Sentence {row} of {name} has {words.Count} words but {tags.Count} labels; give one label per word.", name);
            for (int w = 0; w < tags.Count; w++)
            {
                if (tags[w] < 0 || tags[w] >= labelCount)
                    throw new ArgumentOutOfRangeException(name, tags[w], $"Label {tags[w]} of word {w} ('{words[w]}') in sentence {row} is outside [0, {labelCount}).");
            }
        }
    }

    /// <summary>Validation sentences with their references.</summary>
    private sealed record ValidationSet(IReadOnlyList<IReadOnlyList<string>> Sentences, IReadOnlyList<IReadOnlyList<int>> Labels);

    /// <summary>Token classification as a training task: length-bucketed micro-batches, entity F1 as the validation metric.</summary>
    private sealed class TaggingTask(
        TokenClassifier classifier, EncodedSentence[] train, IReadOnlyList<IReadOnlyList<int>> labels, ValidationSet? validation,
        TokenClassifierTrainingOptions options)
        : TrainingTask(classifier.Model, train.Length, BatchCount(train.Length, options.BatchSize), validation is null ? null : EntityF1)
    {
        private readonly Random random = new(options.Seed);
        private readonly int[] indices = [.. Enumerable.Range(0, train.Length)];

        public override IReadOnlyList<MicroBatch> Epoch(int epoch)
        {
            int Length(int i) => train[i].Ids.Length;
            var batches = LengthBuckets.Batches(indices, i => Length(i), options.BatchSize, BucketBatches, random);
            return [.. batches.Select(rows => new MicroBatch(rows.Length, () => Loss(rows).Mean, (start, end) => Loss(rows[start..end]),
                [.. rows.Select(Length)]))];
        }

        public override double Validate() => Score(classifier, classifier.Predict(validation!.Sentences, EvaluationBatchSize), validation.Labels).Micro.F1;

        // The mean loss over the rows' words, and how many words that is.
        private PartLoss Loss(int[] rows)
        {
            var batch = rows.Select(r => train[r]).ToList();
            var (positions, counts) = TokenClassifier.FirstPiecePositions(batch);
            var targets = rows.SelectMany((r, b) => labels[r].Take(counts[b]).Select(l => (long)l)).ToArray();
            var logits = classifier.Logits(batch);                                                                   // (B, T, L)
            var words = logits.reshape(-1, classifier.Labels.Count).index_select(0, tensor(positions, device: classifier.Device)); // (W, L)
            return new(LabelSmoothedCrossEntropy.Compute(words, tensor(targets, device: classifier.Device), options.Optimization.LabelSmoothing), targets.Length);
        }
    }
}
