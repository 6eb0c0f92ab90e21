using TorchSharp;
using TorchSharp.Modules;
using TorchSharp.Utils;
using Transformer.MLNet.Network.Configuration;
using static TorchSharp.torch;

namespace Transformer.MLNet.Network.Bert;

/// <summary>
/// Multi-head scaled dot-product self-attention with BERT's separate <c>query</c>, <c>key</c> and <c>value</c>
/// projections; padding keys are masked out.
/// </summary>
internal sealed class BertSelfAttention : nn.Module<Tensor, Tensor, Tensor>
{
    [ComponentName(Name = "query")]
    private readonly Linear _query;

    [ComponentName(Name = "key")]
    private readonly Linear _key;

    [ComponentName(Name = "value")]
    private readonly Linear _value;

    private readonly int _heads;
    private readonly int _headDim;
    private readonly double _dropout;

    /// <summary>Creates the projections of <paramref name="config"/>.</summary>
    /// <param name="config">Needs ModelDim, Heads and Dropout (applied to attention weights while training).</param>
    public BertSelfAttention(TransformerConfig config) : base(nameof(BertSelfAttention))
    {
        ArgumentNullException.ThrowIfNull(config);
        _query = nn.Linear(config.ModelDim, config.ModelDim);
        _key = nn.Linear(config.ModelDim, config.ModelDim);
        _value = nn.Linear(config.ModelDim, config.ModelDim);
        _heads = config.Heads;
        _headDim = config.HeadDim;
        _dropout = config.Dropout;
        RegisterComponents();
    }

    /// <summary>Attends every position to every non-padding position.</summary>
    /// <param name="hidden">(B, T, D) input.</param>
    /// <param name="keyMask">(B, 1, 1, T) bool: true where the key is a real token.</param>
    /// <returns>(B, T, D) context vectors, heads concatenated.</returns>
    public override Tensor forward(Tensor hidden, Tensor keyMask)
    {
        using var scope = NewDisposeScope();
        long batch = hidden.shape[0], length = hidden.shape[1];
        var q = SplitHeads(_query.forward(hidden), batch, length);   // (B, T, D) -> (B, h, T, d)
        var k = SplitHeads(_key.forward(hidden), batch, length);
        var v = SplitHeads(_value.forward(hidden), batch, length);

        // softmax(q kᵀ / √d + mask) v; the bool mask sets padding keys to -inf before the softmax. Every row keeps at
        // least its [CLS] key, so no row is fully masked.
        var context = nn.functional.scaled_dot_product_attention(
            q, k, v, keyMask, training ? _dropout : 0.0, false);   // (B, h, T, d)
        return context.transpose(1, 2)                              // (B, T, h, d)
            .reshape(batch, length, _heads * _headDim)              // (B, T, D)
            .MoveToOuterDisposeScope();
    }

    private Tensor SplitHeads(Tensor x, long batch, long length) =>
        x.view(batch, length, _heads, _headDim).transpose(1, 2);
}
