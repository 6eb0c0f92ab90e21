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
    /// <param name="sublayer">The attention or feed-forward block.</param>
    /// <returns>(B, T, D).</returns>
    public static Tensor Apply(Tensor x, LayerNorm norm, bool preNorm, double dropout, bool training, Func<Tensor, Tensor> sublayer)
    {
        if (preNorm)
        {
            using var normed = norm.call(x);
            using var inner = sublayer(normed);
            using var dropped = Dropout(inner, dropout, training);
            return x + dropped;
        }

        using var output = sublayer(x);
        using var dropped2 = Dropout(output, dropout, training);
        using var sum = x + dropped2;
        return norm.call(sum);
    }

    private static Tensor Dropout(Tensor x, double p, bool training) =>
        training && p > 0 ? nn.functional.dropout(x, p, training: true) : x.alias();
}
