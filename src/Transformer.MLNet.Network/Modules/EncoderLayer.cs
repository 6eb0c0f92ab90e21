using TorchSharp;
using TorchSharp.Modules;
using TorchSharp.Utils;
using Transformer.MLNet.Network.Configuration;
using static TorchSharp.torch;

namespace Transformer.MLNet.Network.Modules;

/// <summary>One encoder layer (paper, section 3.1): multi-head self-attention, then the feed-forward network, each with a residual connection and LayerNorm.</summary>
public sealed class EncoderLayer : nn.Module
{
    [ComponentName(Name = "self_attention")]
    private readonly MultiHeadAttention selfAttention;

    [ComponentName(Name = "self_attention_norm")]
    private readonly LayerNorm selfAttentionNorm;

    [ComponentName(Name = "feed_forward")]
    private readonly FeedForward feedForward;

    [ComponentName(Name = "feed_forward_norm")]
    private readonly LayerNorm feedForwardNorm;

    private readonly bool preNorm;
    private readonly double dropout;

    /// <summary>Creates the sub-layers.</summary>
    /// <param name="config">Width, heads, d_ff, activation, dropout, epsilon and LayerNorm placement.</param>
    public EncoderLayer(TransformerConfig config) : base(nameof(EncoderLayer))
    {
        selfAttention = new MultiHeadAttention(config.ModelDim, config.Heads, config.Dropout);
        selfAttentionNorm = nn.LayerNorm(config.ModelDim, config.LayerNormEps);
        feedForward = new FeedForward(config.ModelDim, config.FeedForwardDim, config.Activation);
        feedForwardNorm = nn.LayerNorm(config.ModelDim, config.LayerNormEps);
        preNorm = config.PreLayerNorm;
        dropout = config.Dropout;
        RegisterComponents();
    }

    /// <summary>The self-attention block, for inspecting attention weights.</summary>
    public MultiHeadAttention SelfAttention => selfAttention;

    /// <summary>Encodes a batch.</summary>
    /// <param name="x">(B, S, D).</param>
    /// <param name="mask">Key mask broadcastable to (B, h, S, S) (see <see cref="ScaledDotProductAttention.KeyMask"/>), or null.</param>
    /// <returns>(B, S, D).</returns>
    public Tensor forward(Tensor x, Tensor? mask)
    {
        using var attended = Residual.Apply(x, selfAttentionNorm, preNorm, dropout, training, h => selfAttention.forward(h, h, mask));
        return Residual.Apply(attended, feedForwardNorm, preNorm, dropout, training, feedForward.call);
    }
}
