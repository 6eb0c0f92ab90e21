namespace Transformer.MLNet.Network.Metrics;

/// <summary>
/// What BLEU does with an n-gram order that has no match, after Chen and Cherry 2014, "A Systematic Comparison
/// of Smoothing Techniques for Sentence-Level BLEU" (the names of sacreBLEU's <c>smooth_method</c>).
/// </summary>
public enum BleuSmoothing
{
    /// <summary>No smoothing: one empty order makes the score 0.</summary>
    None,

    /// <summary>Method 1: a zero match count becomes the smoothing value (0.1 by default).</summary>
    Floor,

    /// <summary>Method 2: add the smoothing value (1 by default) to matches and totals of orders 2 and up.</summary>
    AddK,

    /// <summary>Method 3 (NIST, mteval-v13a): the k-th empty order gets precision 1 / (2^k · total). sacreBLEU's default.</summary>
    Exponential,
}
