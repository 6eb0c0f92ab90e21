using TorchSharp;
using TorchSharp.Modules;
using TorchSharp.Utils;
using Transformer.MLNet.Network.Configuration;
using static TorchSharp.torch;
using Transformer.MLNet.Network.Kernels;

namespace Transformer.MLNet.Network.Bert;

/// <summary>The first half of the position-wise feed-forward network: <c>act(dense(x))</c>, D → F.</summary>
internal sealed class BertIntermediate : nn.Module<Tensor, Tensor>
{
    [ComponentName(Name = "dense")]
    private readonly Linear _dense;

    private readonly Activation _activation;

    /// <summary>Creates the layer of <paramref name="config"/>.</summary>
    /// <param name="config">Needs ModelDim, FeedForwardDim and Activation.</param>
    public BertIntermediate(TransformerConfig config) : base(nameof(BertIntermediate))
    {
        ArgumentNullException.ThrowIfNull(config);
        _dense = nn.Linear(config.ModelDim, config.FeedForwardDim);
        _activation = config.Activation;
        RegisterComponents();
    }

    /// <summary>Applies the projection and the non-linearity.</summary>
    /// <param name="hidden">(B, T, D).</param>
    /// <returns>(B, T, F).</returns>
    public override Tensor forward(Tensor hidden) =>
        // BERT's "gelu" is the exact erf form, not the tanh approximation.
        _dense.ProjectActivated(hidden, _activation);
}
