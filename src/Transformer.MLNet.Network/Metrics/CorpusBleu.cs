namespace Transformer.MLNet.Network.Metrics;

/// <summary>
/// Corpus-level BLEU (Papineni et al. 2002) computed exactly as sacreBLEU 2.x computes it (Post 2018, "A Call for
/// Clarity in Reporting BLEU Scores"): per-segment clipped n-gram matches against all references of the segment,
/// the closest reference length (the shorter one on ties) for the brevity penalty, sums over the corpus, then one
/// geometric mean. The defaults are sacreBLEU's <c>corpus_bleu</c> defaults: 13a tokenization, mixed case,
/// 4-grams, exponential smoothing, no effective order.
/// </summary>
public sealed class CorpusBleu
{
    /// <summary>Word tokenizer applied to hypotheses and references (default 13a).</summary>
    public BleuTokenization Tokenization { get; init; } = BleuTokenization.Mteval13a;

    /// <summary>Lowercase both sides before tokenizing.</summary>
    public bool Lowercase { get; init; }

    /// <summary>Highest n-gram order N (default 4).</summary>
    public int MaxOrder { get; init; } = 4;

    /// <summary>Smoothing of orders without matches (default exponential, as in sacreBLEU).</summary>
    public BleuSmoothing Smoothing { get; init; } = BleuSmoothing.Exponential;

    /// <summary>The value for <see cref="BleuSmoothing.Floor"/> (default 0.1) and <see cref="BleuSmoothing.AddK"/> (default 1).</summary>
    public double? SmoothingValue { get; init; }

    /// <summary>Average only over the orders the hypotheses have n-grams for (for very short segments).</summary>
    public bool EffectiveOrder { get; init; }

    /// <summary>Scores a corpus.</summary>
    /// <param name="hypotheses">One system output per segment.</param>
    /// <param name="references">For each segment, its references (one or more; any number per segment).</param>
    /// <returns>The corpus score.</returns>
    /// <exception cref="ArgumentException">The counts differ, or a segment has no reference.</exception>
    public BleuScore Score(IReadOnlyList<string> hypotheses, IReadOnlyList<IReadOnlyList<string>> references)
    {
        CorpusArguments.Check(hypotheses, references);
        if (MaxOrder < 1)
            throw new ArgumentException($"CorpusBleu.MaxOrder = {MaxOrder} is invalid: it must be 1 or more.", nameof(MaxOrder));

        var matches = new double[MaxOrder];
        var totals = new double[MaxOrder];
        long hypothesisLength = 0, referenceLength = 0;
        for (int s = 0; s < hypotheses.Count; s++)
        {
            var segmentReferences = references[s];

            string[] hypothesis = Preprocess(hypotheses[s]);
            var maxReferenceCounts = new Dictionary<string, int>(StringComparer.Ordinal);
            var referenceLengths = new List<int>(segmentReferences.Count);
            foreach (string reference in segmentReferences)
            {
                string[] words = Preprocess(reference);
                referenceLengths.Add(words.Length);
                foreach (var (ngram, count) in CountNgrams(words, MaxOrder))
                {
                    if (!maxReferenceCounts.TryGetValue(ngram, out int seen) || count > seen)
                        maxReferenceCounts[ngram] = count;
                }
            }

            hypothesisLength += hypothesis.Length;
            referenceLength += ClosestReferenceLength(hypothesis.Length, referenceLengths);
            foreach (var (ngram, count) in CountNgrams(hypothesis, MaxOrder))
            {
                int order = ngram.Count(c => c == Separator) + 1;
                totals[order - 1] += count;
                if (maxReferenceCounts.TryGetValue(ngram, out int referenceCount))
                    matches[order - 1] += Math.Min(count, referenceCount);
            }
        }

        return FromStatistics(matches, totals, hypothesisLength, referenceLength);
    }

    /// <summary>The score from corpus statistics (sacreBLEU's <c>BLEU.compute_bleu</c>) with this instance's smoothing.</summary>
    /// <param name="matches">Clipped matches per order 1..<see cref="MaxOrder"/>.</param>
    /// <param name="totals">Hypothesis n-grams per order.</param>
    /// <param name="hypothesisLength">Total hypothesis words.</param>
    /// <param name="referenceLength">Total closest-reference words.</param>
    /// <returns>The score.</returns>
    public BleuScore FromStatistics(IReadOnlyList<double> matches, IReadOnlyList<double> totals, long hypothesisLength, long referenceLength)
    {
        ArgumentNullException.ThrowIfNull(matches);
        ArgumentNullException.ThrowIfNull(totals);
        if (matches.Count != MaxOrder || totals.Count != MaxOrder)
            throw new ArgumentException($"Expected {MaxOrder} matches and totals (MaxOrder), got {matches.Count} and {totals.Count}.", nameof(matches));

        double brevityPenalty = hypothesisLength >= referenceLength ? 1.0
            : hypothesisLength > 0 ? Math.Exp(1.0 - (double)referenceLength / hypothesisLength) : 0.0;
        var correct = matches.ToArray();
        var total = totals.ToArray();
        var precisions = new double[MaxOrder];
        if (correct.All(c => c == 0))
            return new BleuScore(0.0, correct, total, precisions, brevityPenalty, hypothesisLength, referenceLength);

        double smoothingValue = SmoothingValue ?? (Smoothing == BleuSmoothing.AddK ? 1.0 : 0.1);
        double mtevalFactor = 1.0;
        int effectiveOrder = MaxOrder;
        for (int n = 1; n <= MaxOrder; n++)
        {
            if (Smoothing == BleuSmoothing.AddK && n > 1)
            {
                correct[n - 1] += smoothingValue;
                total[n - 1] += smoothingValue;
            }

            if (total[n - 1] == 0)
                break;
            if (EffectiveOrder)
                effectiveOrder = n;

            if (correct[n - 1] == 0)
            {
                if (Smoothing == BleuSmoothing.Exponential)
                {
                    mtevalFactor *= 2;
                    precisions[n - 1] = 100.0 / (mtevalFactor * total[n - 1]);
                }
                else if (Smoothing == BleuSmoothing.Floor)
                {
                    precisions[n - 1] = 100.0 * smoothingValue / total[n - 1];
                }
            }
            else
            {
                precisions[n - 1] = 100.0 * correct[n - 1] / total[n - 1];
            }
        }

        // A zero precision within the averaged orders makes the geometric mean 0 (sacreBLEU's log(0) stand-in).
        double score = precisions.Take(effectiveOrder).Any(p => p <= 0) ? 0.0
            : brevityPenalty * Math.Exp(precisions.Take(effectiveOrder).Sum(Math.Log) / effectiveOrder);
        return new BleuScore(score, correct, total, precisions, brevityPenalty, hypothesisLength, referenceLength);
    }

    private const char Separator = '\u0001';

    private string[] Preprocess(string segment)
    {
        ArgumentNullException.ThrowIfNull(segment);
        string text = Lowercase ? segment.ToLowerInvariant() : segment;
        return SacreBleuTokenizer.Tokenize(text.TrimEnd(), Tokenization);
    }

    private static Dictionary<string, int> CountNgrams(string[] words, int maxOrder)
    {
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int n = 1; n <= maxOrder; n++)
        {
            for (int i = 0; i + n <= words.Length; i++)
            {
                string key = string.Join(Separator, words, i, n);
                counts[key] = counts.GetValueOrDefault(key) + 1;
            }
        }

        return counts;
    }

    private static int ClosestReferenceLength(int hypothesisLength, List<int> referenceLengths)
    {
        int best = referenceLengths[0];
        foreach (int length in referenceLengths)
        {
            int diff = Math.Abs(hypothesisLength - length), bestDiff = Math.Abs(hypothesisLength - best);
            if (diff < bestDiff || (diff == bestDiff && length < best))
                best = length;
        }

        return best;
    }
}
