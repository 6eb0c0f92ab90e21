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

    /// <summary>Checks an encoder folder option before any data is read, naming the option.</summary>
    /// <exception cref="ArgumentException">The folder is blank.</exception>
    /// <exception cref="DirectoryNotFoundException">The folder does not exist.</exception>
    public static void CheckFolder(string? folder, string option)
    {
        if (folder is null)
            return;
        if (string.IsNullOrWhiteSpace(folder))
            throw new ArgumentException($"{option} = '{folder}' is blank: give the encoder's folder, or null for the built-in MiniLM-L6.", option);
        if (!Directory.Exists(folder))
        {
            throw new DirectoryNotFoundException(
                $"{option} = '{folder}' does not exist: give a folder holding config.json, model.safetensors and vocab.txt " +
                "(a Hugging Face BERT folder, or one this library saved), or null for the built-in MiniLM-L6.");
        }
    }

    private static PretrainedBert Load(string? folder) => folder is null ? PretrainedBert.LoadMiniLm() : PretrainedBert.LoadFolder(folder);

}
