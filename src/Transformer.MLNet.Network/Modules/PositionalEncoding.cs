using TorchSharp;
using Transformer.MLNet.Network.Configuration;
using static TorchSharp.torch;

namespace Transformer.MLNet.Network.Modules;

/// <summary>Adds position information to token embeddings; positions start at an offset so incremental decoding can continue a sequence.</summary>
public abstract class PositionalEncoding : nn.Module<Tensor, long, Tensor>
{
    /// <summary>Names the module.</summary>
    /// <param name="name">Module name.</param>
    protected PositionalEncoding(string name) : base(name)
    {
    }

    /// <summary>Longest sequence covered (offset + length must not exceed it).</summary>
    public abstract int MaxPositions { get; }

    /// <summary>The encoding the config asks for.</summary>
    /// <param name="config">Uses <see cref="TransformerConfig.PositionalEncoding"/>, <see cref="TransformerConfig.MaxPositions"/> and <see cref="TransformerConfig.ModelDim"/>.</param>
    public static PositionalEncoding Create(TransformerConfig config) => config.PositionalEncoding switch
    {
        PositionalEncodingKind.Sinusoidal => new SinusoidalPositionalEncoding(config.MaxPositions, config.ModelDim),
        // The scale of the token embeddings after TokenEmbedding's optional √d_model factor.
        PositionalEncodingKind.Learned => new LearnedPositionalEncoding(
            config.MaxPositions, config.ModelDim, config.ScaleEmbeddings ? 1.0 : 1.0 / Math.Sqrt(config.ModelDim)),
        _ => throw new ArgumentOutOfRangeException(nameof(config), config.PositionalEncoding, "Unknown positional encoding."),
    };

    /// <summary>Throws a clear error when positions run past <see cref="MaxPositions"/>.</summary>
    /// <param name="offset">First position.</param>
    /// <param name="length">Number of positions.</param>
    protected void CheckRange(long offset, long length)
    {
        if (offset < 0 || offset + length > MaxPositions)
            throw new ArgumentException(
                $"Positions {offset}..{offset + length - 1} exceed TransformerConfig.MaxPositions = {MaxPositions}. " +
                "Truncate the sequences or build the model with a larger MaxPositions.");
    }
}
