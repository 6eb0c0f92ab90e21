using Microsoft.ML;
using Microsoft.ML.Runtime;
using Transformer.MLNet.Encoders;
using Transformer.MLNet.Mapping;
using Transformer.MLNet.Schema;

namespace Transformer.MLNet.Embeddings;

/// <summary>
/// Sentence embeddings from a pretrained Transformer encoder (MiniLM-L6 by default). Nothing is learned: fitting
/// loads the encoder. Create it with <c>mlContext.Transforms.Text.ApplySentenceEmbedding(...)</c>.
/// </summary>
/// <remarks>
/// | Input column | Output column |
/// |---|---|
/// | String | Vector&lt;Single, dim&gt; (384 for MiniLM-L6) |
/// </remarks>
public sealed class SentenceEmbeddingEstimator : IEstimator<SentenceEmbeddingTransformer>
{
    private readonly IHostEnvironment environment;

    internal SentenceEmbeddingEstimator(IHostEnvironment environment, SentenceEmbeddingOptions options)
    {
        this.environment = environment;
        Options = options;
        options.Validate();
    }

    /// <summary>The options this estimator was created with.</summary>
    public SentenceEmbeddingOptions Options { get; }

    private string InputColumnName => Options.InputColumnName ?? Options.OutputColumnName;

    /// <inheritdoc/>
    public SentenceEmbeddingTransformer Fit(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        TextColumn.Find(input.Schema, InputColumnName, nameof(Options.InputColumnName));
        var device = environment.GetTorchDevice();
        if (BFloat16Advice.Warning(Options.UseBFloat16, device, nameof(Options.UseBFloat16)) is { } warning)
        {
            using var channel = environment.Register(nameof(SentenceEmbeddingEstimator)).Start("Fit");
            channel.Warning(MessageSensitivity.None, warning);
        }

        return EncoderLoader.ForEmbedding(Options, InputColumnName, device);
    }

    /// <inheritdoc/>
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        TextColumn.Check(inputSchema, InputColumnName, nameof(Options.InputColumnName));
        // The shape of a vector column does not carry its length, so any length describes it.
        return SchemaShapeColumns.Append(inputSchema, OutputColumn.ToShapes([OutputColumn.Vector(Options.OutputColumnName, 1)]));
    }
}
