using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;
using Transformer.MLNet.Mapping;
using Transformer.MLNet.Network.TokenClassification;
using Transformer.MLNet.Progress;
using Transformer.MLNet.Schema;

namespace Transformer.MLNet.TokenClassification;

/// <summary>
/// Fine-tunes a Transformer encoder (the pretrained MiniLM-L6 by default) with a token-classification head: one IOB2
/// tag per word, and the entities they spell. Create it with <c>mlContext.MulticlassClassification.Trainers.TokenClassifier(...)</c>.
/// </summary>
/// <remarks>
/// | Input column | Type |
/// |---|---|
/// | label | Vector&lt;Key&lt;UInt32, n&gt;&gt; whose key values are IOB2 tags (<c>MapValueToKey</c> of a vector of tag strings) |
/// | text | String (raw text, cut at whitespace and punctuation) or Vector&lt;String&gt; (words) |
///
/// Output: see <see cref="TokenClassificationTransformer"/>. Training validates by entity micro-F1.
/// </remarks>
public sealed class TokenClassificationTrainer : IEstimator<TokenClassificationTransformer>
{
    private const string Component = "TokenClassification";
    private readonly IHostEnvironment environment;

    internal TokenClassificationTrainer(IHostEnvironment environment, TokenClassifierOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        this.environment = environment;
        Options = options;
    }

    /// <summary>The options this trainer was created with.</summary>
    public TokenClassifierOptions Options { get; }

    /// <inheritdoc/>
    public TokenClassificationTransformer Fit(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        // No rows first: the tag set of an empty label column says nothing about the data.
        using (var probe = input.GetRowCursor([]))
        {
            if (!probe.MoveNext())
                throw new ArgumentException($"The training data has no rows in column '{Options.LabelColumnName}'.", nameof(input));
        }

        var train = TaggedSentences.Read(input, Options.TextColumnName, Options.LabelColumnName);
        if (train.Words.Length == 0)
            throw new ArgumentException($"The training data has no rows in column '{Options.LabelColumnName}'.", nameof(input));
        TaggedSentences? validation = null;
        if (Options.ValidationSet is { } validationSet)
        {
            validation = TaggedSentences.Read(validationSet, Options.TextColumnName, Options.LabelColumnName);
            if (!validation.TagNames.SequenceEqual(train.TagNames))
            {
                throw new ArgumentException(
                    $"The validation set's label '{Options.LabelColumnName}' has the tags {string.Join(", ", validation.TagNames)}, the training data's " +
                    $"{string.Join(", ", train.TagNames)}. Map both with the same fitted MapValueToKey.", nameof(input));
            }
        }

        int seed = Options.Seed ?? environment.Register(Component).Rand.Next();
        if (validation is null && Options.ValidationFraction > 0)
        {
            var (kept, held) = Holdout.Split([.. train.Words.Zip(train.Labels)], Options.ValidationFraction, seed);
            if (held is not null)
            {
                validation = train with { Words = [.. held.Select(r => r.First)], Labels = [.. held.Select(r => r.Second)] };
                train = train with { Words = [.. kept.Select(r => r.First)], Labels = [.. kept.Select(r => r.Second)] };
            }
        }

        var settings = new TokenClassifierSettings(train.TagNames, Options.MaxTokens, Options.Dropout);
        using var log = new TrainingLog(environment, Component, Options.Progress);
        log.CheckPrecision(Options.Precision, environment.GetTorchDevice());
        string source = Options.ScratchConfig is { } scratch ? $"scratch ({scratch.Name}: {scratch.EncoderLayers} layers, width {scratch.ModelDim})"
            : Options.EncoderFolder is null ? "pretrained MiniLM-L6" : $"encoder folder '{Options.EncoderFolder}'";
        log.Info($"Training a token classifier ({train.TagNames.Length} tags) on {train.Words.Length} sentences from {source}; seed {seed}.");
        var (classifier, result) = TokenClassifierTrainer.Fit(
            Options.EncoderFolder, Options.ScratchConfig, settings, train.Words, train.Labels, Options.ToTrainingOptions(seed, log),
            validation?.Words, validation?.Labels, environment.GetTorchDevice(), Options.Cancellation);
        log.CheckSkipped(result);
        log.Info($"Finished after {result.Epochs} epochs ({result.Steps} updates, {result.StopReason}); kept epoch {result.BestEpoch}; " +
            $"{result.TruncatedExamples} training sentences were cut to MaxTokens = {Options.MaxTokens}.");
        return new TokenClassificationTransformer(
            classifier, Options.TextColumnName, Options.PredictedLabelColumnName, Options.EntityColumnPrefix, Options.InferenceBatchSize);
    }

    /// <inheritdoc/>
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        TextColumn.Check(inputSchema, Options.TextColumnName, nameof(Options.TextColumnName), allowWords: true);
        var label = inputSchema.FirstOrDefault(c => c.Name == Options.LabelColumnName);
        if (label.Name is null || label.Kind == SchemaShape.Column.VectorKind.Scalar || !label.IsKey)
        {
            throw new ArgumentOutOfRangeException(nameof(Options.LabelColumnName),
                $"Label column '{Options.LabelColumnName}' must be a vector of keys, one IOB2 tag per word" +
                (label.Name is null ? ", but is missing." : $", but is {label.Kind} of {label.ItemType}.") +
                $" Add mlContext.Transforms.Conversion.MapValueToKey(\"{Options.LabelColumnName}\") before the trainer.");
        }

        // SchemaShape carries types and annotation kinds, not values: one placeholder tag gives the right shapes.
        var outputs = TokenClassificationTransformer.DefineOutputs(["O"], Options.PredictedLabelColumnName, Options.EntityColumnPrefix);
        return SchemaShapeColumns.Append(inputSchema, OutputColumn.ToShapes(outputs));
    }
}
