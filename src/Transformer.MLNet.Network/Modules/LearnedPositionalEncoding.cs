using TorchSharp;
using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace Transformer.MLNet.Network.Modules;

/// <summary>A learned vector per position (BERT, GPT), added to the token embeddings.</summary>
internal sealed class LearnedPositionalEncoding : PositionalEncoding
{
    [ComponentName(Name = "position_embeddings")]
    private readonly Embedding positions;

    /// <summary>Creates the table.</summary>
    /// <param name="maxPositions">Rows of the table.</param>
    /// <param name="modelDim">d_model.</param>
    /// <param name="standardDeviation">
    /// Spread of the initial vectors: the token embeddings' own, as GPT-2 and BERT initialise both tables at the same
    /// small scale. (nn.Embedding's default N(0, 1) would be 16 times the tokens' 1/√d_model at d_model 256, so at
    /// first the normalised input of the first layer would say little but the position.)
    /// </param>
    public LearnedPositionalEncoding(int maxPositions, int modelDim, double standardDeviation) : base(nameof(LearnedPositionalEncoding))
    {
        MaxPositions = maxPositions;
        positions = nn.Embedding(maxPositions, modelDim);
        RegisterComponents();
        using (no_grad())
            nn.init.normal_(positions.weight!, 0, standardDeviation);
    }

    /// <inheritdoc />
    public override int MaxPositions { get; }

    /// <summary>Adds the vectors of positions offset … offset + T − 1.</summary>
    /// <param name="x">(B, T, D).</param>
    /// <param name="offset">Position of the first element.</param>
    /// <returns>(B, T, D).</returns>
    public override Tensor forward(Tensor x, long offset)
    {
        CheckRange(offset, x.shape[1]);
        using var rows = positions.weight!.narrow(0, offset, x.shape[1]);   // (T, D)
        return x + rows;
    }
}
