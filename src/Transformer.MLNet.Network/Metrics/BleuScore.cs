namespace Transformer.MLNet.Network.Metrics;

/// <summary>A corpus BLEU score with the statistics it was computed from (sacreBLEU's <c>BLEUScore</c> fields).</summary>
/// <param name="Score">BLEU on the 0–100 scale.</param>
/// <param name="Matches">Clipped n-gram matches per order 1..N.</param>
/// <param name="Totals">Hypothesis n-grams per order 1..N.</param>
/// <param name="Precisions">Smoothed n-gram precisions per order, on the 0–100 scale.</param>
/// <param name="BrevityPenalty">exp(1 − r/c) when the hypotheses are shorter than the references, else 1.</param>
/// <param name="HypothesisLength">c: total hypothesis words.</param>
/// <param name="ReferenceLength">r: total closest-reference words.</param>
public sealed record BleuScore(
    double Score,
    IReadOnlyList<double> Matches,
    IReadOnlyList<double> Totals,
    IReadOnlyList<double> Precisions,
    double BrevityPenalty,
    long HypothesisLength,
    long ReferenceLength)
{
    /// <summary>sacreBLEU's one-line summary, e.g. <c>BLEU = 48.53 82.4/50.0/45.5/37.5 (BP = 0.943 ...)</c>.</summary>
    public override string ToString() => string.Create(System.Globalization.CultureInfo.InvariantCulture,
        $"BLEU = {Score:F2} {string.Join("/", Precisions.Select(p => p.ToString("F1", System.Globalization.CultureInfo.InvariantCulture)))} " +
        $"(BP = {BrevityPenalty:F3} ratio = {(ReferenceLength == 0 ? 0 : (double)HypothesisLength / ReferenceLength):F3} " +
        $"hyp_len = {HypothesisLength} ref_len = {ReferenceLength})");
}
