using Transformer.MLNet.Mapping;
using Transformer.MLNet.Network.Generation;

namespace Transformer.MLNet.Generation;

/// <summary>Base of the fitted generative transformers: a trained network that adds one generated-text column, decoding rows in batches.</summary>
public abstract class GeneratedTextTransformer : TextMappingTransformer
{
    private protected GeneratedTextTransformer(ITextGenerator generator, string inputColumnName, string outputColumnName, GenerationOptions decoding)
        : base(inputColumnName, decoding.BatchSize)
    {
        Generator = generator;
        OutputColumnName = outputColumnName;
        Decoding = decoding.Validate();
        OutputColumns = [OutputColumn.Text(outputColumnName)];
    }

    /// <summary>Name of the generated-text column.</summary>
    public string OutputColumnName { get; }

    /// <summary>How the pipeline decodes.</summary>
    public GenerationOptions Decoding { get; }

    internal ITextGenerator Generator { get; }

    /// <summary>The trained network's sizes (vocabulary size included).</summary>
    public Network.Configuration.TransformerConfig Architecture => Generator.Config;

    /// <summary>Number of trained weights.</summary>
    public long ParameterCount => Generator.ParameterCount;

    internal override IReadOnlyList<OutputColumn> OutputColumns { get; }

    /// <summary>Generates directly, optionally with other decoding settings (e.g. beam search or sampling) than the pipeline's.</summary>
    /// <param name="inputs">Input texts.</param>
    /// <param name="decoding">Decoding settings; null uses <see cref="Decoding"/>.</param>
    /// <returns>One output text per input, in order.</returns>
    /// <exception cref="ObjectDisposedException">The transformer has been disposed.</exception>
    public string[] Generate(IReadOnlyList<string> inputs, GenerationOptions? decoding = null)
    {
        using var use = EnterUse();
        return Generator.GenerateText(inputs, decoding ?? Decoding);
    }

    internal override IReadOnlyList<object> Map(IReadOnlyList<string> texts) => Generator.GenerateText(texts, Decoding);

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        if (disposing)
            Generator.Dispose();
    }
}
