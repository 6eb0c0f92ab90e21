using Transformer.MLNet.Network.Bert;
using Transformer.MLNet.Network.Configuration;
using Transformer.MLNet.Network.Tokenization;

namespace Transformer.MLNet.Network.Pretrained;

/// <summary>
/// Where a fine-tuned BERT model starts: the packaged MiniLM, a Hugging Face folder, or a new encoder of a given shape
/// with the MiniLM vocabulary. One choice, and one way of building a task model around it, for every encoder trainer.
/// </summary>
internal static class EncoderStart
{
    /// <summary>Throws when both a folder and a scratch shape are given.</summary>
    /// <exception cref="ArgumentException">Both are set.</exception>
    public static void CheckChoice(string? encoderFolder, TransformerConfig? scratchConfig)
    {
        if (scratchConfig is not null && encoderFolder is not null)
        {
            throw new ArgumentException(
                "Set either EncoderFolder (fine-tune that encoder) or ScratchConfig (train a new one), not both.", nameof(scratchConfig));
        }
    }

    /// <summary>
    /// Opens the starting encoder, builds the task model around it with <paramref name="create"/>, and trains it with
    /// <paramref name="train"/> (told whether the encoder is new); whatever was built is disposed if a step fails.
    /// Call after seeding, so that a new encoder's and the head's initial weights repeat.
    /// </summary>
    public static (TModel Model, TResult Result) BuildAndTrain<TModel, TResult>(
        string? encoderFolder, TransformerConfig? scratchConfig,
        Func<BertModel, BertTextTokenizer, TModel> create, Func<TModel, bool, TResult> train)
        where TModel : IDisposable
    {
        CheckChoice(encoderFolder, scratchConfig);
        BertModel encoder;
        BertTextTokenizer tokenizer;
        if (scratchConfig is not null)
        {
            tokenizer = PretrainedBert.LoadMiniLmTokenizer();
            encoder = new BertModel(scratchConfig with { VocabSize = tokenizer.VocabularySize, PadTokenId = tokenizer.PadTokenId });
        }
        else
        {
            var pretrained = encoderFolder is null ? PretrainedBert.LoadMiniLm() : PretrainedBert.LoadFolder(encoderFolder);
            (encoder, tokenizer) = (pretrained.Model, pretrained.Tokenizer);
        }

        TModel model;
        try
        {
            model = create(encoder, tokenizer);
        }
        catch
        {
            encoder.Dispose();
            throw;
        }

        try
        {
            return (model, train(model, scratchConfig is not null));
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }
}
