using TorchSharp;
using TorchSharp.Modules;
using TorchSharp.Utils;
using Transformer.MLNet.Network.Configuration;
using static TorchSharp.torch;

namespace Transformer.MLNet.Network.Modules;

/// <summary>
/// One decoder layer (paper, section 3.1): masked self-attention, attention over the encoder output, then the
/// feed-forward network, each with a residual connection and LayerNorm. Without cross-attention it is the block of
/// a decoder-only language model.
/// </summary>
public sealed class DecoderLayer : nn.Module
{
    [ComponentName(Name = "self_attention")]
    private readonly MultiHeadAttention selfAttention;

    [ComponentName(Name = "self_attention_norm")]
    private readonly LayerNorm selfAttentionNorm;

    [ComponentName(Name = "cross_attention")]
    private readonly MultiHeadAttention? crossAttention;

    [ComponentName(Name = "cross_attention_norm")]
    private readonly LayerNorm? crossAttentionNorm;

    [ComponentName(Name = "feed_forward")]
    private readonly FeedForward feedForward;

    [ComponentName(Name = "feed_forward_norm")]
    private readonly LayerNorm feedForwardNorm;

    private readonly bool preNorm;
    private readonly double dropout;

    /// <summary>Creates the sub-layers.</summary>
    /// <param name="config">Width, heads, d_ff, activation, dropout, epsilon and LayerNorm placement.</param>
    /// <param name="withCrossAttention">False for a decoder-only language model.</param>
    public DecoderLayer(TransformerConfig config, bool withCrossAttention = true) : base(nameof(DecoderLayer))
    {
        selfAttention = new MultiHeadAttention(config.ModelDim, config.Heads, config.Dropout);
        selfAttentionNorm = nn.LayerNorm(config.ModelDim, config.LayerNormEps);
        if (withCrossAttention)
        {
            crossAttention = new MultiHeadAttention(config.ModelDim, config.Heads, config.Dropout);
            crossAttentionNorm = nn.LayerNorm(config.ModelDim, config.LayerNormEps);
        }

        feedForward = new FeedForward(config.ModelDim, config.FeedForwardDim, config.Activation);
        feedForwardNorm = nn.LayerNorm(config.ModelDim, config.LayerNormEps);
        preNorm = config.PreLayerNorm;
        dropout = config.Dropout;
        RegisterComponents();
    }

    /// <summary>The masked self-attention block.</summary>
    public MultiHeadAttention SelfAttention => selfAttention;

    /// <summary>The attention over the encoder output, or null in a decoder-only model.</summary>
    public MultiHeadAttention? CrossAttention => crossAttention;

    /// <summary>Decodes target positions.</summary>
    /// <param name="x">(B, T, D): all target positions, or only the new ones when <paramref name="selfCache"/> holds the earlier ones.</param>
    /// <param name="memory">(B, S, D) encoder output, or null without cross-attention.</param>
    /// <param name="memoryMask">Key mask broadcastable to (B, h, T, S) for the encoder positions, or null.</param>
    /// <param name="selfCache">Self-attention keys/values of earlier positions (updated), or null to attend within <paramref name="x"/> only.</param>
    /// <param name="crossCache">Cached encoder keys/values (filled on first use), or null to project <paramref name="memory"/> each call.</param>
    /// <param name="crossAttentionWeights">
    /// When not null (and without <paramref name="crossCache"/>), the cross-attention runs through the explicit path
    /// and its weights (B, h, T, S) are appended here; the caller owns (disposes) them.
    /// </param>
    /// <returns>(B, T, D).</returns>
    public Tensor forward(Tensor x, Tensor? memory, Tensor? memoryMask = null, AttentionCache? selfCache = null, AttentionCache? crossCache = null,
        IList<Tensor>? crossAttentionWeights = null)
    {
        Func<Tensor, Tensor> selfBlock = selfCache is null
            ? h => selfAttention.forward(h, h, causal: true)
            : h => selfAttention.SelfAttention(h, selfCache, causal: true);
        var y = Residual.Apply(x, selfAttentionNorm, preNorm, dropout, training, selfBlock);

        if (crossAttention is not null && crossAttentionNorm is not null)
        {
            if (memory is null && crossCache?.Key is null)
                throw new ArgumentException("This decoder layer attends to an encoder output: pass memory.", nameof(memory));
            if (crossAttentionWeights is not null && crossCache is not null)
                throw new ArgumentException("Attention weights are recorded without a cross-attention cache: pass crossCache = null.", nameof(crossAttentionWeights));
            Func<Tensor, Tensor> crossBlock = crossCache is not null
                ? h => crossAttention.CrossAttention(h, memory!, crossCache, memoryMask)
                : crossAttentionWeights is null
                    ? h => crossAttention.forward(h, memory!, memoryMask)
                    : h =>
                    {
                        var (output, weights) = crossAttention.ForwardWithWeights(h, memory!, memoryMask);
                        crossAttentionWeights.Add(weights.DetachFromDisposeScope());
                        return output;
                    };
            var afterSelf = y;
            y = Residual.Apply(afterSelf, crossAttentionNorm, preNorm, dropout, training, crossBlock);
            afterSelf.Dispose();
        }

        using (y)
            return Residual.Apply(y, feedForwardNorm, preNorm, dropout, training, feedForward.call);
    }
}
