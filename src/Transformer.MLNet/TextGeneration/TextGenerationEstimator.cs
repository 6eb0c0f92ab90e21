using Microsoft.ML;
using Microsoft.ML.Runtime;
using Transformer.MLNet.Generation;
using Transformer.MLNet.Mapping;
using Transformer.MLNet.Network.Generation;
using Transformer.MLNet.Network.Tokenization;
using Transformer.MLNet.Progress;
using Transformer.MLNet.Schema;

namespace Transformer.MLNet.TextGeneration;

/// <summary>
/// Trains a decoder-only Transformer language model from scratch on a text column (each row a document: bos,
/// its tokens, eos) and returns a <see cref="TextGenerationTransformer"/> that continues a prompt column.
/// </summary>
/// <remarks>
/// <list type="table">
/// <listheader><term>Column</term><description>Role</description></listheader>
/// <item><term><see cref="TextGenerationOptions.TextColumnName"/> (text)</term><description>Training documents, read by <c>Fit</c> only.</description></item>
/// <item><term><see cref="TextGenerationOptions.PromptColumnName"/> (text)</term><description>Input of the transformer.</description></item>
/// <item><term><see cref="GenerativeEstimatorOptions.OutputColumnName"/> (text)</term><description>Added by the transformer: the continuation.</description></item>
/// </list>
/// </remarks>
public sealed class TextGenerationEstimator : IEstimator<TextGenerationTransformer>
{
    private const string Component = "TextGeneration";
    private readonly IHostEnvironment environment;

    internal TextGenerationEstimator(IHostEnvironment environment, TextGenerationOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        ArgumentException.ThrowIfNullOrEmpty(options.TextColumnName, nameof(options.TextColumnName));
        ArgumentException.ThrowIfNullOrEmpty(options.PromptColumnName, nameof(options.PromptColumnName));
        if (!Enum.IsDefined(options.Tokenization))
        {
            throw new ArgumentOutOfRangeException(nameof(options.Tokenization), options.Tokenization,
                $"Tokenization must be {nameof(TextGenerationTokenization.Tiktoken)} or {nameof(TextGenerationTokenization.Characters)}.");
        }

        if (options.BlockSize < 1 || options.BlockSize > options.Architecture.MaxPositions)
        {
            throw new ArgumentOutOfRangeException(nameof(options.BlockSize), options.BlockSize,
                $"BlockSize must be between 1 and Architecture.MaxPositions ({options.Architecture.MaxPositions}).");
        }

        this.environment = environment;
        Options = options;
    }

    /// <summary>The settings.</summary>
    public TextGenerationOptions Options { get; }

    /// <summary>Trains the language model on the text column of <paramref name="input"/>.</summary>
    /// <param name="input">Data with the text column.</param>
    /// <returns>The fitted transformer.</returns>
    public TextGenerationTransformer Fit(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        List<string> Read(IDataView data) => [.. GenerativeFitting.ReadRows(data, (Options.TextColumnName, nameof(Options.TextColumnName))).Select(r => r[0])];
        var (train, validation, seed) = GenerativeFitting.Prepare(environment, Component, Options, Read(input), Read);
        if (train.All(string.IsNullOrEmpty))
        {
            string unit = Options.Tokenization == TextGenerationTokenization.Characters ? "characters" : "tokens";
            throw new ArgumentException(
                $"The training texts of column '{Options.TextColumnName}' (TextColumnName) have no {unit}: pass at least one non-empty text.", nameof(input));
        }

        using var log = new TrainingLog(environment, Component, Options.Progress);
        log.CheckPrecision(Options.Precision, environment.GetTorchDevice());
        log.Info($"Training a language model on {train.Count} documents ({validation?.Count ?? 0} for validation); seed {seed}.");
        var (generator, result) = LanguageModelTrainer.Fit(
            Options.Architecture, Options.Tokenization == TextGenerationTokenization.Characters, train, validation,
            Options.ToTrainingOptions(Options.BlockSize, seed, log), environment.GetTorchDevice(), Options.Cancellation);
        log.CheckSkipped(result);
        log.Info(FormattableString.Invariant($"Finished after {result.Steps} updates ({result.StopReason}); best validation loss {result.BestValidationMetric:F4}."));
        return new TextGenerationTransformer(generator, Options.PromptColumnName, Options.OutputColumnName, Options.Decoding);
    }

    /// <summary>The input schema plus the completion column.</summary>
    /// <param name="inputSchema">Shape of the input.</param>
    /// <returns>Shape of the output.</returns>
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        TextColumn.Check(inputSchema, Options.PromptColumnName, nameof(Options.PromptColumnName));
        return SchemaShapeColumns.Append(inputSchema, OutputColumn.ToShapes([OutputColumn.Text(Options.OutputColumnName)]));
    }
}
