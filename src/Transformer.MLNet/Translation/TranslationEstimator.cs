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
        using var log = new TrainingLog(environment, Component, Options.Progress);
        log.CheckPrecision(Options.Precision, environment.GetTorchDevice());
        log.Info($"Training a translation model on {train.Count} pairs ({validation?.Count ?? 0} for validation); seed {seed}.");
        var (generator, result) = TranslationTrainer.Fit(
            Options.Architecture, Options.MinTokenCount, train, validation, Options.ToTrainingOptions(128, seed, log), environment.GetTorchDevice(),
            Options.Cancellation);
        log.Info(FormattableString.Invariant($"Finished after {result.Steps} updates ({result.StopReason}); best validation loss {result.BestValidationMetric:F4}."));
        return new TranslationTransformer(generator, Options.SourceColumnName, Options.OutputColumnName, Options.Decoding);
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
