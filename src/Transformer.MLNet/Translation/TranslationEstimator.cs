using Microsoft.ML;
using Microsoft.ML.Runtime;
using Transformer.MLNet.Generation;
using Transformer.MLNet.Mapping;
using Transformer.MLNet.Network.Generation;
using Transformer.MLNet.Network.Tokenization;
using Transformer.MLNet.Progress;
using Transformer.MLNet.Schema;

namespace Transformer.MLNet.Translation;

/// <summary>
/// Trains a Transformer encoder-decoder (Vaswani et al. 2017) from scratch on a source-text and a target-text
/// column and returns a <see cref="TranslationTransformer"/> that adds a translated-text column.
/// </summary>
/// <remarks>
/// <list type="table">
/// <listheader><term>Column</term><description>Role</description></listheader>
/// <item><term><see cref="TranslationOptions.SourceColumnName"/> (text)</term><description>Input, at training and prediction time.</description></item>
/// <item><term><see cref="TranslationOptions.TargetColumnName"/> (text)</term><description>Reference translation, read by <c>Fit</c> only.</description></item>
/// <item><term><see cref="GenerativeEstimatorOptions.OutputColumnName"/> (text)</term><description>Added by the transformer.</description></item>
/// </list>
/// Tokens: o200k_base restricted to the tokens of the training text (<see cref="RestrictedTiktokenTokenizer"/>),
/// one vocabulary for both sides.
/// </remarks>
public sealed class TranslationEstimator : IEstimator<TranslationTransformer>
{
    private const string Component = "Translation";
    private readonly IHostEnvironment environment;

    internal TranslationEstimator(IHostEnvironment environment, TranslationOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        ArgumentException.ThrowIfNullOrEmpty(options.SourceColumnName, nameof(options.SourceColumnName));
        ArgumentException.ThrowIfNullOrEmpty(options.TargetColumnName, nameof(options.TargetColumnName));
        if (options.MinTokenCount < 1)
            throw new ArgumentOutOfRangeException(nameof(options.MinTokenCount), options.MinTokenCount, "MinTokenCount must be 1 or more.");
        this.environment = environment;
        Options = options;
    }

    /// <summary>The settings.</summary>
    public TranslationOptions Options { get; }

    /// <summary>Trains the network on the rows of <paramref name="input"/>.</summary>
    /// <param name="input">Data with the source and target text columns.</param>
    /// <returns>The fitted transformer.</returns>
    public TranslationTransformer Fit(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        List<TranslationPair> Read(IDataView data) => [.. GenerativeFitting.ReadRows(data,
            (Options.SourceColumnName, nameof(Options.SourceColumnName)), (Options.TargetColumnName, nameof(Options.TargetColumnName)))
            .Select(r => new TranslationPair(r[0], r[1]))];
        var (train, validation, seed) = GenerativeFitting.Prepare(environment, Component, Options, Read(input), Read);
        var tokenizer = Vocabulary(train);
        using var log = new TrainingLog(environment, Component, Options.Progress);
        log.CheckPrecision(Options.Precision, environment.GetTorchDevice());
        log.Info($"Training a translation model on {train.Count} pairs ({validation?.Count ?? 0} for validation); seed {seed}.");
        var (generator, result) = TranslationTrainer.Fit(
            Options.Architecture, tokenizer, train, validation, Options.ToTrainingOptions(128, seed, log), environment.GetTorchDevice(),
            Options.Cancellation);
        log.CheckSkipped(result);
        log.Info(FormattableString.Invariant($"Finished after {result.Steps} updates ({result.StopReason}); best validation loss {result.BestValidationMetric:F4}."));
        return new TranslationTransformer(generator, Options.SourceColumnName, Options.OutputColumnName, Options.Decoding);
    }

    /// <summary>
    /// The shared vocabulary of the training pairs, refused when a side has no text or when
    /// <see cref="TranslationOptions.MinTokenCount"/> keeps none of a side's tokens: the model could learn nothing.
    /// </summary>
    private RestrictedTiktokenTokenizer Vocabulary(List<TranslationPair> train)
    {
        var sources = RestrictedTiktokenTokenizer.CountTokens(train.Select(p => p.Source));
        var targets = RestrictedTiktokenTokenizer.CountTokens(train.Select(p => p.Target));
        CheckSide(sources, "source", Options.SourceColumnName, nameof(Options.SourceColumnName));
        CheckSide(targets, "target", Options.TargetColumnName, nameof(Options.TargetColumnName));
        var counts = new Dictionary<int, int>(sources);
        foreach (var (id, count) in targets)
            counts[id] = counts.GetValueOrDefault(id) + count;

        int min = Options.MinTokenCount;
        foreach (var (side, tokens) in new[] { ("source", sources), ("target", targets) })
        {
            if (tokens.Keys.Any(id => counts[id] >= min))
                continue;
            int highest = tokens.Keys.Max(id => counts[id]);
            throw new ArgumentException(
                $"MinTokenCount = {min} leaves no {side} token in the vocabulary, so every translation would be empty: the training pairs " +
                $"have {counts.Count} distinct tokens ({tokens.Count} in the {side} texts), and the most frequent {side} token occurs {highest} " +
                $"times in all the training text. Set MinTokenCount to at most {highest} (1 keeps every token).",
                nameof(Options.MinTokenCount));
        }

        return RestrictedTiktokenTokenizer.Train(counts, min);
    }

    private static void CheckSide(Dictionary<int, int> tokens, string side, string column, string option)
    {
        if (tokens.Count == 0)
        {
            throw new ArgumentException(
                $"The training texts of column '{column}' ({option}) are all empty: a translator needs a {side} text in the rows it learns " +
                $"from. Check that {option} names the column of the {side} texts and that the training rows fill it.", option);
        }
    }

    /// <summary>The input schema plus the translated-text column.</summary>
    /// <param name="inputSchema">Shape of the input.</param>
    /// <returns>Shape of the output.</returns>
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        TextColumn.Check(inputSchema, Options.SourceColumnName, nameof(Options.SourceColumnName));
        return SchemaShapeColumns.Append(inputSchema, OutputColumn.ToShapes([OutputColumn.Text(Options.OutputColumnName)]));
    }
}
