using TorchSharp;
using TorchSharp.Modules;
using Transformer.MLNet.Network.Configuration;
using static TorchSharp.torch;
using Transformer.MLNet.Network.Kernels;

namespace Transformer.MLNet.Network.Modules;

/// <summary>FFN(x) = act(x W_1 + b_1) W_2 + b_2, applied to each position alike (paper, section 3.3, eq. 2).</summary>
internal sealed class FeedForward : nn.Module<Tensor, Tensor>
{
    private readonly Linear linear1;
    private readonly Linear linear2;
    private readonly Activation activation;

    /// <summary>Creates the two projections.</summary>
    /// <param name="modelDim">d_model.</param>
    /// <param name="feedForwardDim">d_ff.</param>
    /// <param name="activation">ReLU (paper) or GELU (BERT).</param>
    public FeedForward(int modelDim, int feedForwardDim, Activation activation) : base(nameof(FeedForward))
    {
        linear1 = nn.Linear(modelDim, feedForwardDim);
        linear2 = nn.Linear(feedForwardDim, modelDim);
        this.activation = activation;
        RegisterComponents();
        using (no_grad())
        {
            nn.init.xavier_uniform_(linear1.weight!);
            nn.init.xavier_uniform_(linear2.weight!);
        }
    }

    /// <summary>Applies the network.</summary>
    /// <param name="x">(B, T, D).</param>
    /// <returns>(B, T, D).</returns>
    public override Tensor forward(Tensor x)
    {
        using var activated = linear1.ProjectActivated(x, activation);             // (B, T, D) -> (B, T, F)
        return linear2.Project(activated);                                         // (B, T, F) -> (B, T, D)
    }
}
