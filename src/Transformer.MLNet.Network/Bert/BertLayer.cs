using TorchSharp;
using TorchSharp.Utils;
using Transformer.MLNet.Network.Configuration;
using static TorchSharp.torch;

namespace Transformer.MLNet.Network.Bert;

/// <summary>One post-LN encoder block: attention sub-layer, then the feed-forward sub-layer (HF <c>BertLayer</c>).</summary>
internal sealed class BertLayer : nn.Module<Tensor, Tensor, Tensor>
{
    [ComponentName(Name = "attention")]
    private readonly BertAttention _attention;

    [ComponentName(Name = "intermediate")]
    private readonly BertIntermediate _intermediate;

    [ComponentName(Name = "output")]
    private readonly BertResidualOutput _output;

    /// <summary>Creates the block of <paramref name="config"/>.</summary>
    /// <param name="config">The network's config.</param>
    public BertLayer(TransformerConfig config) : base(nameof(BertLayer))
    {
        ArgumentNullException.ThrowIfNull(config);
        _attention = new BertAttention(config);
        _intermediate = new BertIntermediate(config);
        _output = new BertResidualOutput(config.FeedForwardDim, config);
        RegisterComponents();
    }

    /// <summary>Runs the block.</summary>
    /// <param name="hidden">(B, T, D).</param>
    /// <param name="keyMask">(B, 1, 1, T) bool, true for real tokens.</param>
    /// <returns>(B, T, D).</returns>
    public override Tensor forward(Tensor hidden, Tensor keyMask)
    {
        using var scope = NewDisposeScope();
        var attended = _attention.forward(hidden, keyMask);
        return _output.forward(_intermediate.forward(attended), attended).MoveToOuterDisposeScope();
    }
}
