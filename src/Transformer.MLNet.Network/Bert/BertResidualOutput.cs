using TorchSharp;
using TorchSharp.Modules;
using TorchSharp.Utils;
using Transformer.MLNet.Network.Configuration;
using Transformer.MLNet.Network.Modules;
using static TorchSharp.torch;
using Transformer.MLNet.Network.Kernels;

namespace Transformer.MLNet.Network.Bert;

/// <summary>
/// The residual sub-layer closing a block: <c>LayerNorm(residual + dropout(dense(x)))</c> (post-LN, as in BERT).
/// Used after attention (HF <c>attention.output</c>, D → D) and after the feed-forward network (HF <c>output</c>, F → D).
/// </summary>
internal sealed class BertResidualOutput : nn.Module<Tensor, Tensor, Tensor>
{
    [ComponentName(Name = "dense")]
    private readonly Linear _dense;

    [ComponentName(Name = "LayerNorm")]
    private readonly LayerNorm _layerNorm;

    private readonly double _dropout;

    /// <summary>Creates the sub-layer.</summary>
    /// <param name="inputDim">Width of the dense layer's input.</param>
    /// <param name="config">Supplies ModelDim, LayerNormEps and Dropout.</param>
    public BertResidualOutput(int inputDim, TransformerConfig config) : base(nameof(BertResidualOutput))
    {
        ArgumentNullException.ThrowIfNull(config);
        _dense = nn.Linear(inputDim, config.ModelDim);
        _layerNorm = nn.LayerNorm(config.ModelDim, config.LayerNormEps);
        _dropout = config.Dropout;
        RegisterComponents();
    }

    /// <summary>Projects <paramref name="x"/>, adds the residual and normalises.</summary>
    /// <param name="x">(B, T, inputDim).</param>
    /// <param name="residual">(B, T, D) the block's input.</param>
    /// <returns>(B, T, D).</returns>
    public override Tensor forward(Tensor x, Tensor residual)
    {
        // The post-LN residual of the paper's blocks, with the projection of x as the sub-layer.
        return Residual.Apply(residual, _layerNorm, preNorm: false, _dropout, training, _ => _dense.Project(x));
    }
}
