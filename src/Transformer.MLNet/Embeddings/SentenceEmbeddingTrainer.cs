using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;
using Transformer.MLNet.Mapping;
using Transformer.MLNet.Network.Embeddings;
using Transformer.MLNet.Progress;
using Transformer.MLNet.Schema;

namespace Transformer.MLNet.Embeddings;

/// <summary>
/// Fine-tunes the sentence-embedding encoder (a bi-encoder) on sentence pairs and returns the same featurizer
/// <c>ApplySentenceEmbedding</c> gives, over the fine-tuned weights. Create it with
/// <c>mlContext.Transforms.Text.FineTuneSentenceEmbedding(...)</c>.
/// </summary>
/// <remarks>
/// | Input column | Type |
/// |---|---|
/// | first sentence | String |
/// | second sentence | String, not empty |
/// | label (CoSENT, cosine loss) | Single, finite |
///
/// Output: a <see cref="SentenceEmbeddingTransformer"/>; <see cref="SentenceEmbeddingTransformer.SaveEncoder"/> exports
/// the encoder as a Hugging Face folder (safetensors), which <c>SentenceEmbeddingOptions.EncoderFolder</c> loads.
/// Validation metric: Spearman's ρ of the cosines with the labels.
/// </remarks>
public sealed class SentenceEmbeddingTrainer : IEstimator<SentenceEmbeddingTransformer>
{
    private const string Component = "SentenceEmbeddingTraining";
    private readonly IHostEnvironment environment;

    internal SentenceEmbeddingTrainer(IHostEnvironment environment, SentenceEmbeddingTrainingOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        this.environment = environment;
        Options = options;
    }

    /// <summary>The options this trainer was created with.</summary>
    public SentenceEmbeddingTrainingOptions Options { get; }

    /// <inheritdoc/>
    public SentenceEmbeddingTransformer Fit(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        var train = Read(input, Options.Loss == SimilarityLoss.MultipleNegativesRanking ? null : Options.LabelColumnName);
        var validation = Options.ValidationSet is null ? null : Read(Options.ValidationSet, Options.LabelColumnName);
        int seed = Options.Seed ?? environment.Register(Component).Rand.Next();
        if (validation is null && Options.ValidationFraction > 0 && train.Scores is not null)
        {
            var (kept, held) = Holdout.Split([.. Enumerable.Range(0, train.Count)], Options.ValidationFraction, seed);
            if (held is not null)
                (train, validation) = (Select(train, kept), Select(train, held));
        }

        if (validation is not null)
            CheckValidation(validation, heldOut: Options.ValidationSet is null);

        using var log = new TrainingLog(environment, Component, Options.Progress);
        log.CheckPrecision(Options.Precision, environment.GetTorchDevice());
        log.Info($"Fine-tuning the sentence encoder ({Options.Loss}) on {train.Count} pairs from " +
            $"{(Options.EncoderFolder is null ? "pretrained MiniLM-L6" : $"encoder folder '{Options.EncoderFolder}'")}; seed {seed}.");
        var (encoder, result) = SentenceEncoderTrainer.Fit(
            Options.EncoderFolder, train, Options.ToTrainingOptions(seed, log), validation, environment.GetTorchDevice(), Options.Cancellation);
        log.CheckSkipped(result);
        log.Info($"Finished after {result.Epochs} epochs ({result.Steps} updates, {result.StopReason}); {result.TruncatedExamples} sentences were cut to MaxTokens = {Options.MaxTokens}.");
        var options = Options.ToEmbeddingOptions();
        try
        {
            var sentences = SentenceEncoder.FromPretrained(encoder, Encoders.EncoderLoader.EncoderOptions(options));
            return new SentenceEmbeddingTransformer(encoder, sentences, options, options.InputColumnName!);
        }
        catch
        {
            encoder.Dispose();
            throw;
        }
    }

    /// <inheritdoc/>
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        TextColumn.Check(inputSchema, Options.FirstSentenceColumnName, nameof(Options.FirstSentenceColumnName));
        TextColumn.Check(inputSchema, Options.SecondSentenceColumnName, nameof(Options.SecondSentenceColumnName));
        return SchemaShapeColumns.Append(inputSchema, OutputColumn.ToShapes([OutputColumn.Vector(Options.OutputColumnName, 1)]));
    }

    /// <summary>
    /// The validation metric, Spearman's ρ of the cosines with the labels, needs at least 2 pairs whose labels differ;
    /// otherwise it is undefined, so this fails before training instead of after its first epoch.
    /// </summary>
    private void CheckValidation(SentencePairs validation, bool heldOut)
    {
        string source = heldOut
            ? $"ValidationFraction = {Options.ValidationFraction} holds out {validation.Count} of the training pairs for validation"
            : $"ValidationSet holds {validation.Count} pair{(validation.Count == 1 ? "" : "s")}";
        string fix = heldOut
            ? "raise ValidationFraction (or add training rows), set a ValidationSet, or set ValidationFraction = 0 to train without validation"
            : "give a ValidationSet with more pairs and different labels, or leave ValidationSet null";
        string option = heldOut ? nameof(Options.ValidationFraction) : nameof(Options.ValidationSet);
        if (validation.Count < 2)
        {
            throw new ArgumentException(
                $"{source}; the validation metric, Spearman's ρ of the cosines with the labels, needs at least 2 pairs: {fix}.", option);
        }

        var labels = validation.Scores;
        if (labels is not null && labels.All(label => label == labels[0]))
        {
            throw new ArgumentException(
                $"{source}, and every one has the same label ({labels[0]}) in column '{Options.LabelColumnName}'; Spearman's ρ, the validation metric, " +
                $"is undefined then: {fix}.", option);
        }
    }

    private static SentencePairs Select(SentencePairs pairs, IReadOnlyList<int> rows) =>
        new([.. rows.Select(r => pairs.First[r])], [.. rows.Select(r => pairs.Second[r])]) { Scores = pairs.Scores is null ? null : [.. rows.Select(r => pairs.Scores[r])] };

    /// <summary>Reads the pairs; an empty second sentence or a non-finite label is an error naming the column and row.</summary>
    private SentencePairs Read(IDataView data, string? labelColumnName)
    {
        var first = TextColumn.Find(data.Schema, Options.FirstSentenceColumnName, nameof(Options.FirstSentenceColumnName));
        var second = TextColumn.Find(data.Schema, Options.SecondSentenceColumnName, nameof(Options.SecondSentenceColumnName));
        DataViewSchema.Column? label = null;
        if (labelColumnName is not null)
        {
            label = data.Schema.GetColumnOrNull(labelColumnName) is { } column && column.Type == NumberDataViewType.Single
                ? column
                : throw new ArgumentOutOfRangeException(nameof(Options.LabelColumnName),
                    $"Label column '{labelColumnName}' (LabelColumnName) must be a Single column of similarities" +
                    (data.Schema.GetColumnOrNull(labelColumnName) is { } c ? $" but is {c.Type}." : " but is not in the data."));
        }

        var firsts = new List<string>();
        var seconds = new List<string>();
        var scores = label is null ? null : new List<float>();
        using var cursor = data.GetRowCursor(label is { } l ? [first, second, l] : [first, second]);
        var readFirst = TextColumn.Reader(cursor, first);
        var readSecond = TextColumn.SecondTextReader(cursor, second, nameof(Options.SecondSentenceColumnName));
        var readLabel = label is { } labelColumn ? cursor.GetGetter<float>(labelColumn) : null;
        float value = 0;
        while (cursor.MoveNext())
        {
            string text = readSecond();
            if (readLabel is not null)
            {
                readLabel(ref value);
                if (!float.IsFinite(value))
                    throw new InvalidOperationException($"Row {cursor.Position}: label column '{labelColumnName}' is {value}; a similarity label must be a finite number.");
                scores!.Add(value);
            }

            firsts.Add(readFirst());
            seconds.Add(text);
        }

        return new SentencePairs(firsts, seconds) { Scores = scores };
    }
}
