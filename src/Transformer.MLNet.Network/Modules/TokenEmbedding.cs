using TorchSharp;
using TorchSharp.Modules;
using TorchSharp.Utils;
using Transformer.MLNet.Network.Configuration;
using static TorchSharp.torch;

namespace Transformer.MLNet.Network.Modules;

/// <summary>
/// Token embedding, multiplied by √d_model when the config asks (paper, section 3.4), plus positional encoding,
/// then dropout (section 5.4).
/// </summary>
internal sealed class TokenEmbedding : nn.Module<Tensor, long, Tensor>
{
    [ComponentName(Name = "tokens")]
    private readonly Embedding tokens;

    [ComponentName(Name = "positions")]
    private readonly PositionalEncoding positions;

    private readonly double scale;
    private readonly double dropout;
    private readonly long vocabSize;

    /// <summary>Creates the embedding table and the positional encoding.</summary>
    /// <param name="config">Vocabulary, width, positions, scaling and dropout.</param>
    public TokenEmbedding(TransformerConfig config) : base(nameof(TokenEmbedding))
    {
        tokens = nn.Embedding(config.VocabSize, config.ModelDim);
        positions = PositionalEncoding.Create(config);
        scale = config.ScaleEmbeddings ? Math.Sqrt(config.ModelDim) : 1.0;
        dropout = config.Dropout;
        vocabSize = config.VocabSize;
        RegisterComponents();
        using (no_grad())
            nn.init.normal_(tokens.weight!, 0, 1.0 / Math.Sqrt(config.ModelDim));   // × √d_model → unit variance
    }

    /// <summary>The (V, D) token table; an output projection tied to it reads it through this property.</summary>
    public Parameter TokenWeight => tokens.weight!;

    /// <summary>Longest sequence the positional encoding covers.</summary>
    public int MaxPositions => positions.MaxPositions;

    /// <summary>Embeds tokens at positions offset … offset + T − 1.</summary>
    /// <param name="ids">(B, T) int64 token ids in [0, V).</param>
    /// <param name="offset">Position of the first token (cached length in incremental decoding).</param>
    /// <returns>(B, T, D).</returns>
    public override Tensor forward(Tensor ids, long offset)
    {
        CheckIds(ids);
        using var embedded = tokens.call(ids);                                   // (B, T) -> (B, T, D)
        using var scaled = scale == 1.0 ? embedded.alias() : embedded * scale;
        var positioned = positions.call(scaled, offset);
        if (!training || dropout == 0)
            return positioned;
        using (positioned)
            return InvertedDropout.Apply(positioned, dropout);
    }

    private void CheckIds(Tensor ids)
    {
        if (ids.dim() != 2 || ids.dtype != ScalarType.Int64)
            throw new ArgumentException(
                $"Token ids must be a (batch, length) int64 tensor; got {ids.dtype} of shape [{string.Join(", ", ids.shape)}].", nameof(ids));
        if (ids.numel() == 0)
            throw new ArgumentException("Token ids are empty: every sequence needs at least one token.", nameof(ids));
        using var min = ids.min();
        using var max = ids.max();
        long low = min.ToInt64(), high = max.ToInt64();
        if (low < 0 || high >= vocabSize)
            throw new ArgumentException(
                $"Token id {(low < 0 ? low : high)} is outside the vocabulary [0, {vocabSize}). " +
                "Check the tokenizer and TransformerConfig.VocabSize.", nameof(ids));
    }
}
