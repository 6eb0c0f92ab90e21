using TorchSharp;
using TorchSharp.Modules;
using TorchSharp.Utils;
using Transformer.MLNet.Network.Configuration;
using static TorchSharp.torch;
using Transformer.MLNet.Network.Kernels;

namespace Transformer.MLNet.Network.Bert;

/// <summary>BERT's pooler: <c>tanh(dense(h[CLS]))</c>, the input of BERT's classification heads.</summary>
internal sealed class BertPooler : nn.Module<Tensor, Tensor>
{
    [ComponentName(Name = "dense")]
    private readonly Linear _dense;

    /// <summary>Creates the pooler of <paramref name="config"/>.</summary>
    /// <param name="config">Needs ModelDim.</param>
    public BertPooler(TransformerConfig config) : base(nameof(BertPooler))
    {
        ArgumentNullException.ThrowIfNull(config);
        _dense = nn.Linear(config.ModelDim, config.ModelDim);
        RegisterComponents();
    }

    /// <summary>Pools the first token of each row.</summary>
    /// <param name="lastHiddenState">(B, T, D).</param>
    /// <returns>(B, D).</returns>
    public override Tensor forward(Tensor lastHiddenState)
    {
        using var scope = NewDisposeScope();
        var first = lastHiddenState.select(1, 0);   // (B, T, D) -> (B, D)
        return _dense.Project(first).tanh_().MoveToOuterDisposeScope();
    }
}
