using TorchSharp;
using Transformer.MLNet.Embeddings;
using Transformer.MLNet.Network.Bert;
using Transformer.MLNet.Network.Configuration;
using Transformer.MLNet.Network.Embeddings;
using Transformer.MLNet.Network.Pretrained;
using Transformer.MLNet.Network.Tokenization;

namespace Transformer.MLNet.Encoders;

/// <summary>Where our components get their encoder: the built-in MiniLM-L6, a model folder, or a fresh network.</summary>
internal static class EncoderLoader
{
    /// <summary>The encoder and tokenizer a classifier starts from; the caller owns the model.</summary>
    public static (BertModel Encoder, BertTextTokenizer Tokenizer, string Description) ForTraining(string? folder, TransformerConfig? scratch)
    {
        if (scratch is not null)
        {
            if (folder is not null)
            {
                throw new ArgumentException(
                    "Set either EncoderFolder (fine-tune that encoder) or ScratchConfig (train a new one), not both.", nameof(scratch));
            }

            var tokenizer = MiniLmTokenizer();
            var config = scratch with { VocabSize = tokenizer.VocabularySize, PadTokenId = tokenizer.PadTokenId };
            return (new BertModel(config), tokenizer, $"scratch ({config.Name}: {config.EncoderLayers} layers, width {config.ModelDim})");
        }

        var pretrained = Load(folder);
        return (pretrained.Model, pretrained.Tokenizer, folder is null ? "pretrained MiniLM-L6" : $"encoder folder '{folder}'");
    }

    /// <summary>A fitted embedding transformer over the chosen encoder.</summary>
    public static SentenceEmbeddingTransformer ForEmbedding(SentenceEmbeddingOptions options, string inputColumnName, torch.Device device)
    {
        var pretrained = Load(options.ModelFolder);
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
        BatchSize = options.BatchSize,
        UseBFloat16 = options.UseBFloat16,
        TokenizationRules = options.TokenizationRules,
    };

    private static PretrainedBert Load(string? folder) => folder is null ? PretrainedBert.LoadMiniLm() : PretrainedBert.LoadFolder(folder);

    private static BertTextTokenizer MiniLmTokenizer()
    {
        var vocabulary = MiniLmPackage.ReadResource(MiniLmPackage.Locate(), MiniLmPackage.VocabularyResource);
        return BertTextTokenizer.FromVocabulary(new MemoryStream(vocabulary));
    }
}
