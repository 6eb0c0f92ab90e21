using TorchSharp;
using Transformer.MLNet.Embeddings;
using Transformer.MLNet.Network.Embeddings;
using Transformer.MLNet.Network.Pretrained;

namespace Transformer.MLNet.Encoders;

/// <summary>Where the embedding transformer gets its encoder: the built-in MiniLM-L6 or a model folder.</summary>
internal static class EncoderLoader
{
    /// <summary>A fitted embedding transformer over the chosen encoder.</summary>
    public static SentenceEmbeddingTransformer ForEmbedding(SentenceEmbeddingOptions options, string inputColumnName, torch.Device device)
    {
        var pretrained = Load(options.EncoderFolder);
        try
        {
            var encoder = SentenceEncoder.FromPretrained(pretrained, EncoderOptions(options), device);
            return new SentenceEmbeddingTransformer(pretrained, encoder, options, inputColumnName);
        }
        catch
        {
            pretrained.Dispose();
            throw;
        }
    }

    public static SentenceEncoderOptions EncoderOptions(SentenceEmbeddingOptions options) => new()
    {
        Pooling = options.Pooling,
        Normalize = options.Normalize,
        MaxTokens = options.MaxTokens,
        BatchSize = options.InferenceBatchSize,
        UseBFloat16 = options.UseBFloat16,
        TokenizationRules = options.TokenizationRules,
    };

    private static PretrainedBert Load(string? folder) => folder is null ? PretrainedBert.LoadMiniLm() : PretrainedBert.LoadFolder(folder);

}
