using Transformer.MLNet.Mapping;
using Transformer.MLNet.Network.Embeddings;
using Transformer.MLNet.Network.Pretrained;

namespace Transformer.MLNet.Embeddings;

/// <summary>
/// Adds a fixed-size sentence embedding of a text column: <c>Vector&lt;Single, dim&gt;</c>. Rows are encoded lazily,
/// <see cref="TextMappingTransformer.BatchSize"/> texts per forward pass.
/// </summary>
public sealed class SentenceEmbeddingTransformer : TextMappingTransformer
{
    internal SentenceEmbeddingTransformer(PretrainedBert model, SentenceEncoder encoder, SentenceEmbeddingOptions options, string inputColumnName)
        : base(inputColumnName, options.InferenceBatchSize)
    {
        Model = model;
        Encoder = encoder;
        Options = options;
        OutputColumnName = options.OutputColumnName;
        OutputColumns = [OutputColumn.Vector(options.OutputColumnName, encoder.Dimension)];
    }

    /// <summary>The vector column written.</summary>
    public string OutputColumnName { get; }

    /// <summary>
    /// Texts embedded so far that had more than <c>MaxTokens</c> tokens and were cut (the first tokens are kept). Empty
    /// text is embedded as <c>[CLS] [SEP]</c> alone.
    /// </summary>
    public long TruncatedTextCount => Encoder.TruncatedTextCount;

    /// <summary>Length of each embedding.</summary>
    public int Dimension => Encoder.Dimension;

    /// <summary>
    /// Writes the encoder as a Hugging Face BERT folder (<c>config.json</c>, <c>model.safetensors</c>, <c>vocab.txt</c>),
    /// e.g. after <c>FineTuneSentenceEmbedding</c>; <see cref="SentenceEmbeddingOptions.EncoderFolder"/> loads it back.
    /// </summary>
    /// <param name="folder">Created if missing; files of the same names are replaced.</param>
    public void SaveEncoder(string folder)
    {
        using var use = EnterUse();
        Model.SaveFolder(folder);
    }

    internal PretrainedBert Model { get; }

    internal SentenceEncoder Encoder { get; }

    private protected override Network.Export.OnnxExportManifest ExportOnnxCore(string folder) => Encoder.ExportOnnx(folder);

    internal SentenceEmbeddingOptions Options { get; }

    internal override IReadOnlyList<OutputColumn> OutputColumns { get; }

    internal override IReadOnlyList<object> Map(IReadOnlyList<string> texts) => Encoder.Encode(texts);

    /// <summary>Embeds texts outside a cursor (the embedding generator), guarded as a cursor's forward passes are.</summary>
    /// <exception cref="ObjectDisposedException">The transformer has been disposed.</exception>
    internal float[][] Encode(IReadOnlyList<string> texts)
    {
        using var use = EnterUse();
        return Encoder.Encode(texts);
    }

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            Encoder.Dispose();
            Model.Dispose();
        }
    }
}
