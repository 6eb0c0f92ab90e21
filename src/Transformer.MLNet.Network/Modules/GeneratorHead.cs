using TorchSharp;
using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;
using Transformer.MLNet.Network.Kernels;

namespace Transformer.MLNet.Network.Modules;

/// <summary>
/// The pre-softmax linear transformation from d_model to the vocabulary. When tied (paper, section 3.4) its weight
/// is the token embedding table itself, read at each call so it follows the embedding through dtype and device
/// changes, and only the bias is its own parameter.
/// </summary>
internal sealed class GeneratorHead : nn.Module<Tensor, Tensor>
{
    [ComponentName(Name = "projection")]
    private readonly Linear? projection;

    [ComponentName(Name = "bias")]
    private readonly Parameter? tiedBias;

    // A delegate, not a module field, so that RegisterComponents does not list the shared table twice.
    private readonly Func<Tensor>? tiedWeight;

    /// <summary>An untied projection with its own (V, D) weight.</summary>
    /// <param name="modelDim">d_model.</param>
    /// <param name="vocabSize">V.</param>
    public GeneratorHead(int modelDim, int vocabSize) : base(nameof(GeneratorHead))
    {
        projection = nn.Linear(modelDim, vocabSize);
        RegisterComponents();
        using (no_grad())
            nn.init.xavier_uniform_(projection.weight!);
    }

    /// <summary>A projection tied to <paramref name="embeddings"/>' token table.</summary>
    /// <param name="embeddings">The target (or shared) embeddings.</param>
    public GeneratorHead(TokenEmbedding embeddings) : base(nameof(GeneratorHead))
    {
        tiedWeight = () => embeddings.TokenWeight;
        tiedBias = new Parameter(zeros(embeddings.TokenWeight.shape[0]));
        RegisterComponents();
    }

    /// <summary>Scores every vocabulary entry.</summary>
    /// <param name="hidden">(B, T, D) decoder output.</param>
    /// <returns>(B, T, V) logits.</returns>
    public override Tensor forward(Tensor hidden) =>
        projection is not null
            ? projection.Project(hidden)
            : Projection.Linear(hidden, tiedWeight!(), tiedBias!);
}
