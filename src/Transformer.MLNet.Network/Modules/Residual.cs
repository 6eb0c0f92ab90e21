using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Transformer.MLNet.Network.Modules;

/// <summary>The residual connection around a sub-layer, with its LayerNorm before (pre-LN) or after (post-LN, the paper's).</summary>
internal static class Residual
{
    /// <summary>
    /// Post-LN: LayerNorm(x + Dropout(Sublayer(x))) (paper, section 5.4). Pre-LN: x + Dropout(Sublayer(LayerNorm(x))).
    /// </summary>
    /// <param name="x">(B, T, D).</param>
    /// <param name="norm">The sub-layer's LayerNorm.</param>
    /// <param name="preNorm">Normalise the sub-layer's input instead of the sum.</param>
    /// <param name="dropout">Dropout on the sub-layer output; only applied when <paramref name="training"/>.</param>
    /// <param name="training">Module training flag.</param>
    /// <param name="sublayer">The attention or feed-forward block; must return a fresh tensor that its own backward does not need (true of anything ending in a linear projection).</param>
    /// <returns>(B, T, D).</returns>
    public static Tensor Apply(Tensor x, LayerNorm norm, bool preNorm, double dropout, bool training, Func<Tensor, Tensor> sublayer)
    {
        // Dropout and the residual sum work in place on the sub-layer output: it saves two (B, T, D) buffers per
        // sub-layer, and neither dropout's nor addition's backward needs the overwritten values.
        if (preNorm)
        {
            using var normed = norm.call(x);
            var output = sublayer(normed);
            DropoutInPlace(output, dropout, training);
            return output.add_(x);
        }

        var sum = sublayer(x);
        // Inference: sum and norm in one pass over each row, written over the sub-layer output.
        if (!(training && dropout > 0) && Kernels.ResidualNorm.Applies(sum, x, norm.weight, norm.bias))
            return Kernels.ResidualNorm.AddNormInPlace(sum, x, norm.weight!, norm.bias!, norm.eps);

        using (sum)
        {
            DropoutInPlace(sum, dropout, training);
            sum.add_(x);
            return norm.call(sum);
        }
    }

    private static void DropoutInPlace(Tensor x, double p, bool training)
    {
        if (training && p > 0)
            InvertedDropout.ApplyInPlace(x, p);
    }
}
