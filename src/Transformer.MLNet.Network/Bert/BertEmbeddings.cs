using TorchSharp;
using TorchSharp.Modules;
using TorchSharp.Utils;
using Transformer.MLNet.Network.Configuration;
using Transformer.MLNet.Network.Modules;
using static TorchSharp.torch;

namespace Transformer.MLNet.Network.Bert;

/// <summary>
/// BERT input embeddings: the sum of token, learned position and token-type (segment) embeddings, then LayerNorm and
/// dropout. Parameter names are Hugging Face's (<c>word_embeddings</c>, <c>position_embeddings</c>,
/// <c>token_type_embeddings</c>, <c>LayerNorm</c>).
/// </summary>
internal sealed class BertEmbeddings : nn.Module<Tensor, Tensor, Tensor>
{
    [ComponentName(Name = "word_embeddings")]
    private readonly Embedding _wordEmbeddings;

    [ComponentName(Name = "position_embeddings")]
    private readonly Embedding _positionEmbeddings;

    [ComponentName(Name = "token_type_embeddings")]
    private readonly Embedding _tokenTypeEmbeddings;

    [ComponentName(Name = "LayerNorm")]
    private readonly LayerNorm _layerNorm;

    private readonly InvertedDropout _dropout;

    private readonly int _maxPositions;

    /// <summary>The element type of the word embeddings (and so of the layers' activations).</summary>
    internal ScalarType WordEmbeddingType => _wordEmbeddings.weight!.dtype;

    /// <summary>Creates the embeddings of <paramref name="config"/>.</summary>
    /// <param name="config">Needs VocabSize, MaxPositions, TypeVocabSize (at least 1), ModelDim, LayerNormEps, Dropout.</param>
    public BertEmbeddings(TransformerConfig config) : base(nameof(BertEmbeddings))
    {
        ArgumentNullException.ThrowIfNull(config);
        _wordEmbeddings = nn.Embedding(config.VocabSize, config.ModelDim, padding_idx: config.PadTokenId);
        _positionEmbeddings = nn.Embedding(config.MaxPositions, config.ModelDim);
        _tokenTypeEmbeddings = nn.Embedding(Math.Max(1, config.TypeVocabSize), config.ModelDim);
        _layerNorm = nn.LayerNorm(config.ModelDim, config.LayerNormEps);
        _dropout = new InvertedDropout(config.Dropout);
        _maxPositions = config.MaxPositions;
        RegisterComponents();
    }

    /// <summary>Embeds a batch of token ids.</summary>
    /// <param name="inputIds">(B, T) int64 token ids.</param>
    /// <param name="tokenTypeIds">(B, T) int64 segment ids.</param>
    /// <returns>(B, T, D) embeddings.</returns>
    public override Tensor forward(Tensor inputIds, Tensor tokenTypeIds)
    {
        long length = inputIds.shape[1];
        if (length > _maxPositions)
        {
            throw new ArgumentException(
                $"The batch has {length} tokens per row, more than the model's {_maxPositions} positions " +
                "(TransformerConfig.MaxPositions). Truncate the input to at most that many tokens.", nameof(inputIds));
        }

        using var scope = NewDisposeScope();
        using var positions = arange(length, dtype: ScalarType.Int64, device: inputIds.device).unsqueeze(0); // (1, T)
        var sum = _wordEmbeddings.forward(inputIds)                      // (B, T, D)
            .add_(_tokenTypeEmbeddings.forward(tokenTypeIds))
            .add_(_positionEmbeddings.forward(positions));               // broadcast over B
        return _dropout.forward(_layerNorm.forward(sum)).MoveToOuterDisposeScope();
    }
}
