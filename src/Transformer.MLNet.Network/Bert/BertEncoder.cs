using TorchSharp;
using TorchSharp.Modules;
using TorchSharp.Utils;
using Transformer.MLNet.Network.Configuration;
using static TorchSharp.torch;

namespace Transformer.MLNet.Network.Bert;

/// <summary>The stack of <see cref="TransformerConfig.EncoderLayers"/> blocks, named <c>layer.{i}</c> as in HF.</summary>
internal sealed class BertEncoder : nn.Module<Tensor, Tensor, Tensor>
{
    [ComponentName(Name = "layer")]
    private readonly ModuleList<BertLayer> _layers;

    /// <summary>Creates the stack of <paramref name="config"/>.</summary>
    /// <param name="config">The network's config.</param>
    public BertEncoder(TransformerConfig config) : base(nameof(BertEncoder))
    {
        ArgumentNullException.ThrowIfNull(config);
        _layers = nn.ModuleList(Enumerable.Range(0, config.EncoderLayers).Select(_ => new BertLayer(config)).ToArray());
        RegisterComponents();
    }

    /// <summary>Runs every block in order.</summary>
    /// <param name="hidden">(B, T, D) embeddings.</param>
    /// <param name="keyMask">(B, 1, 1, T) bool, true for real tokens.</param>
    /// <returns>(B, T, D).</returns>
    public override Tensor forward(Tensor hidden, Tensor keyMask)
    {
        using var scope = NewDisposeScope();
        var x = hidden;
        foreach (var layer in _layers)
        {
            var next = layer.forward(x, keyMask);
            if (!ReferenceEquals(x, hidden))
                x.Dispose(); // free each block's activations as soon as the next exists (matters for long batches)
            x = next;
        }

        return (ReferenceEquals(x, hidden) ? x.alias() : x).MoveToOuterDisposeScope();
    }
}
