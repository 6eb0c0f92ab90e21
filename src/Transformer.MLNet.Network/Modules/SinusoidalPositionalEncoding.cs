using TorchSharp;
using static TorchSharp.torch;

namespace Transformer.MLNet.Network.Modules;

/// <summary>
/// PE(pos, 2i) = sin(pos / 10000^(2i/d_model)), PE(pos, 2i+1) = cos(pos / 10000^(2i/d_model)) (paper, section 3.5).
/// A fixed table, kept as a non-persistent buffer: it is not a parameter and not saved.
/// </summary>
internal sealed class SinusoidalPositionalEncoding : PositionalEncoding
{
    /// <summary>Precomputes the table.</summary>
    /// <param name="maxPositions">Rows of the table.</param>
    /// <param name="modelDim">d_model (even).</param>
    public SinusoidalPositionalEncoding(int maxPositions, int modelDim) : base(nameof(SinusoidalPositionalEncoding))
    {
        if (modelDim % 2 != 0)
            throw new ArgumentException($"Sinusoidal positions need an even ModelDim; got {modelDim}.", nameof(modelDim));
        MaxPositions = maxPositions;
        Tensor table;
        using (NewDisposeScope())
        {
            var position = arange(maxPositions, dtype: ScalarType.Float32).unsqueeze(1);                     // (P, 1)
            var frequency = exp(arange(0, modelDim, 2, dtype: ScalarType.Float32) * (-Math.Log(10000.0) / modelDim)); // (D/2)
            var angle = position * frequency;                                                                 // (P, D/2)
            table = stack([sin(angle), cos(angle)], 2).reshape(maxPositions, modelDim).MoveToOuterDisposeScope(); // interleave: (P, D)
        }

        register_buffer("table", table, persistent: false);
    }

    /// <inheritdoc />
    public override int MaxPositions { get; }

    /// <summary>Adds the encoding of positions offset … offset + T − 1.</summary>
    /// <param name="x">(B, T, D).</param>
    /// <param name="offset">Position of the first element.</param>
    /// <returns>(B, T, D).</returns>
    public override Tensor forward(Tensor x, long offset)
    {
        CheckRange(offset, x.shape[1]);
        var buffer = get_buffer("table")!;
        using var rows = buffer.narrow(0, offset, x.shape[1]);   // (T, D)
        // Non-persistent buffers keep float32 through Module.to(dtype); match the activations so that bfloat16
        // models stay bfloat16.
        using var typed = rows.dtype == x.dtype ? rows.alias() : rows.to_type(x.dtype);
        return x + typed;
    }
}
