using TorchSharp;
using TorchSharp.Modules;
using TorchSharp.Utils;
using Transformer.MLNet.Network.Configuration;
using Transformer.MLNet.Network.Modules;
using static TorchSharp.torch;

namespace Transformer.MLNet.Network.Bert;

/// <summary>
/// Multi-head self-attention with BERT's separate <c>query</c>, <c>key</c> and <c>value</c> projections (their
/// <c>state_dict</c> names), computed by the shared <see cref="ScaledDotProductAttention"/>; padding keys are masked out.
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
        _dropout = config.Dropout;
        RegisterComponents();
    }

    /// <summary>The query, key and value projections (for packing them as one stack).</summary>
    internal (Linear Query, Linear Key, Linear Value) Projections => (_query, _key, _value);

    /// <summary>Attends every position to every non-padding position.</summary>
    /// <param name="hidden">(B, T, D) input.</param>
    /// <param name="keyMask">(B, 1, 1, T) bool: true where the key is a real token.</param>
    /// <returns>(B, T, D) context vectors, heads concatenated.</returns>
    public override Tensor forward(Tensor hidden, Tensor keyMask)
    {
        using var scope = NewDisposeScope();
        var packed = ScaledDotProductAttention.Stacked(hidden, _query, _key, _value);   // (B, T, 3D)
        // Rows laid end to end without padding (BertModel.ForwardUnpadded): the "mask" holds the rows' start tokens.
        if (keyMask.dtype == ScalarType.Int32)
            return Kernels.PackedAttention.ForwardSegments(packed, keyMask.data<int>().ToArray(), _heads).MoveToOuterDisposeScope();
        // Inference: attention straight from the packed projection into the merged heads, where that kernel applies.
        if (!training && Kernels.PackedAttention.Applies(packed, keyMask, _heads))
            return Kernels.PackedAttention.Forward(packed, keyMask, _heads).MoveToOuterDisposeScope();   // (B, T, D)

        var (q, k, v) = ScaledDotProductAttention.SplitPacked(packed, _heads);   // 3 × (B, h, T, d)

        // The project's one attention (libtorch's fused kernel or the explicit formula, whichever is faster here); the
        // bool mask drops padding keys. Every row keeps at least its [CLS] key, so no row is fully masked.
        var context = ScaledDotProductAttention.Compute(q, k, v, keyMask, causal: false, dropout: training ? _dropout : 0.0);   // (B, h, T, d)
        return ScaledDotProductAttention.MergeHeads(context).MoveToOuterDisposeScope();   // (B, T, D)
    }
}
