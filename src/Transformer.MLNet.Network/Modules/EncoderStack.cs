using TorchSharp;
using TorchSharp.Modules;
using TorchSharp.Utils;
using Transformer.MLNet.Network.Configuration;
using static TorchSharp.torch;

namespace Transformer.MLNet.Network.Modules;

/// <summary>N identical encoder layers; with pre-LN a final LayerNorm normalises the last layer's output.</summary>
public sealed class EncoderStack : nn.Module
{
    [ComponentName(Name = "layers")]
    private readonly ModuleList<EncoderLayer> layers;

    [ComponentName(Name = "final_norm")]
    private readonly LayerNorm? finalNorm;

    /// <summary>Creates <see cref="TransformerConfig.EncoderLayers"/> layers.</summary>
    /// <param name="config">Layer count and layer sizes.</param>
    public EncoderStack(TransformerConfig config) : base(nameof(EncoderStack))
    {
        layers = nn.ModuleList(Enumerable.Range(0, config.EncoderLayers).Select(_ => new EncoderLayer(config)).ToArray());
        if (config.PreLayerNorm)
            finalNorm = nn.LayerNorm(config.ModelDim, config.LayerNormEps);
        RegisterComponents();
    }

    /// <summary>The layers, bottom first.</summary>
    public IReadOnlyList<EncoderLayer> Layers => layers.ToList();

    /// <summary>Encodes a batch.</summary>
    /// <param name="x">(B, S, D) embedded source.</param>
    /// <param name="mask">Key mask broadcastable to (B, h, S, S), or null.</param>
    /// <returns>(B, S, D).</returns>
    public Tensor forward(Tensor x, Tensor? mask)
    {
        var h = x.alias();
        foreach (var layer in layers)
        {
            var previous = h;
            h = layer.forward(previous, mask);
            previous.Dispose();
        }

        if (finalNorm is null)
            return h;
        using (h)
            return finalNorm.call(h);
    }
}
