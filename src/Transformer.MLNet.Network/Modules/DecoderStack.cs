using TorchSharp;
using TorchSharp.Modules;
using TorchSharp.Utils;
using Transformer.MLNet.Network.Configuration;
using static TorchSharp.torch;

namespace Transformer.MLNet.Network.Modules;

/// <summary>N identical decoder layers; with pre-LN a final LayerNorm normalises the last layer's output.</summary>
public sealed class DecoderStack : nn.Module
{
    [ComponentName(Name = "layers")]
    private readonly ModuleList<DecoderLayer> layers;

    [ComponentName(Name = "final_norm")]
    private readonly LayerNorm? finalNorm;

    /// <summary>Creates <see cref="TransformerConfig.DecoderLayers"/> layers.</summary>
    /// <param name="config">Layer count and layer sizes.</param>
    /// <param name="withCrossAttention">False for a decoder-only language model.</param>
    public DecoderStack(TransformerConfig config, bool withCrossAttention = true) : base(nameof(DecoderStack))
    {
        layers = nn.ModuleList(Enumerable.Range(0, config.DecoderLayers).Select(_ => new DecoderLayer(config, withCrossAttention)).ToArray());
        if (config.PreLayerNorm)
            finalNorm = nn.LayerNorm(config.ModelDim, config.LayerNormEps);
        RegisterComponents();
    }

    /// <summary>The layers, bottom first.</summary>
    public IReadOnlyList<DecoderLayer> Layers => layers.ToList();

    /// <summary>Decodes target positions.</summary>
    /// <param name="x">(B, T, D) embedded target (only the new positions when <paramref name="cache"/> holds earlier ones).</param>
    /// <param name="memory">(B, S, D) encoder output, or null for a decoder-only model.</param>
    /// <param name="memoryMask">Key mask broadcastable to (B, h, T, S), or null.</param>
    /// <param name="cache">Per-layer key/value caches for incremental decoding, or null.</param>
    /// <param name="crossAttentionWeights">
    /// When not null (and without <paramref name="cache"/>), receives each layer's cross-attention weights (B, h, T, S),
    /// first layer first; the caller disposes them.
    /// </param>
    /// <returns>(B, T, D).</returns>
    public Tensor forward(Tensor x, Tensor? memory, Tensor? memoryMask = null, KeyValueCache? cache = null, IList<Tensor>? crossAttentionWeights = null)
    {
        if (cache is not null && cache.Layers != layers.Count)
            throw new ArgumentException($"The cache covers {cache.Layers} layers but the decoder has {layers.Count}; create it with the model's NewCache().", nameof(cache));
        var h = x.alias();
        for (int i = 0; i < layers.Count; i++)
        {
            var previous = h;
            h = layers[i].forward(previous, memory, memoryMask, cache?.SelfAttention(i), cache?.CrossAttention(i), crossAttentionWeights);
            previous.Dispose();
        }

        if (finalNorm is null)
            return h;
        using (h)
            return finalNorm.call(h);
    }
}
