using Microsoft.ML;
using TorchSharp;
using Transformer.MLNet.Encoders;
using Transformer.MLNet.Network.Embeddings;
using Transformer.MLNet.Network.Pretrained;
using Transformer.MLNet.Persistence;

namespace Transformer.MLNet.Embeddings;

/// <summary>
/// Segment kind <c>Transformer.MLNet.SentenceEmbedding</c>: <c>options.json</c> (columns, pooling, normalisation, max
/// tokens, batch size) and <c>encoder/</c>, a Hugging Face BERT folder (<c>config.json</c>, <c>model.safetensors</c>,
/// <c>vocab.txt</c>).
/// </summary>
internal sealed class SentenceEmbeddingPersister : ITransformerPersister
{
    private const string OptionsEntry = "options.json", EncoderPrefix = "encoder/";

    public string Kind => "Transformer.MLNet.SentenceEmbedding";

    public bool CanSave(ITransformer transformer) => transformer is SentenceEmbeddingTransformer;

    public void Save(ITransformer transformer, SegmentWriter segment)
    {
        var embedding = (SentenceEmbeddingTransformer)transformer;
        var options = new SentenceEmbeddingOptions
        {
            OutputColumnName = embedding.OutputColumnName,
            InputColumnName = embedding.InputColumnName,
            Pooling = embedding.Options.Pooling,
            Normalize = embedding.Options.Normalize,
            MaxTokens = embedding.Options.MaxTokens,
            BatchSize = embedding.Options.BatchSize,
            UseBFloat16 = embedding.Options.UseBFloat16,
            TokenizationRules = embedding.Options.TokenizationRules,
        };
        segment.WriteJson(OptionsEntry, options);
        using var folder = new TemporaryFolder();
        embedding.Model.SaveFolder(folder.Path);
        segment.WriteDirectory(EncoderPrefix, folder.Path);
    }

    public ITransformer Load(SegmentReader segment)
    {
        var options = segment.ReadJson<SentenceEmbeddingOptions>(OptionsEntry);
        using var folder = new TemporaryFolder();
        segment.ExtractDirectory(EncoderPrefix, folder.Path);
        var pretrained = PretrainedBert.LoadFolder(folder.Path);
        try
        {
            var encoder = SentenceEncoder.FromPretrained(pretrained, EncoderLoader.EncoderOptions(options), torch.CPU);
            return new SentenceEmbeddingTransformer(pretrained, encoder, options, options.InputColumnName ?? options.OutputColumnName);
        }
        catch
        {
            pretrained.Dispose();
            throw;
        }
    }
}
