using TorchSharp;
using TorchSharp.Utils;
using Transformer.MLNet.Network.Configuration;
using static TorchSharp.torch;

namespace Transformer.MLNet.Network.Bert;

/// <summary>The attention sub-layer: HF <c>attention.self</c> followed by <c>attention.output</c>.</summary>
internal sealed class BertAttention : nn.Module<Tensor, Tensor, Tensor>
{
    [ComponentName(Name = "self")]
    private readonly BertSelfAttention _self;

    [ComponentName(Name = "output")]
    private readonly BertResidualOutput _output;

    /// <summary>Creates the sub-layer of <paramref name="config"/>.</summary>
    /// <param name="config">The network's config.</param>
    public BertAttention(TransformerConfig config) : base(nameof(BertAttention))
    {
        ArgumentNullException.ThrowIfNull(config);
        _self = new BertSelfAttention(config);
        _output = new BertResidualOutput(config.ModelDim, config);
        RegisterComponents();
    }

    /// <summary>Self-attention with its residual connection and LayerNorm.</summary>
    /// <param name="hidden">(B, T, D).</param>
    /// <param name="keyMask">(B, 1, 1, T) bool, true for real tokens.</param>
    /// <returns>(B, T, D).</returns>
    public override Tensor forward(Tensor hidden, Tensor keyMask)
    {
        using var scope = NewDisposeScope();
        return _output.forward(_self.forward(hidden, keyMask), hidden).MoveToOuterDisposeScope();
    }
}
