using System.Text;

namespace Transformer.MLNet.Network.Metrics;

/// <summary>
/// chrF (Popović 2015, "chrF: character n-gram F-score for automatic MT evaluation") computed as sacreBLEU 2.x
/// computes it: character n-grams of orders 1..6 with whitespace removed, per-segment statistics against the
/// reference that gives the segment its best F-score, summed over the corpus, then the F_β of the averaged
/// precision and recall (β = 2). Characters are Unicode code points, as in Python.
/// </summary>
public sealed class CorpusChrf
{
    /// <summary>Highest character n-gram order (default 6; 1 to 100).</summary>
    public int CharOrder { get; init; } = 6;

    /// <summary>The largest <see cref="CharOrder"/> accepted (sacreBLEU's default is 6).</summary>
    internal const int MaxCharOrder = 100;

    /// <summary>β: recall is weighted β times as much as precision (default 2; greater than 0, at most 1000).</summary>
    public double Beta { get; init; } = 2;

    /// <summary>The largest <see cref="Beta"/> accepted; far beyond it chrF is recall alone (sacreBLEU's default is 2).</summary>
    internal const double MaxBeta = 1000;

    /// <summary>Lowercase both sides first.</summary>
    public bool Lowercase { get; init; }

    /// <summary>Keep whitespace inside character n-grams (default false: whitespace is removed).</summary>
    public bool IncludeWhitespace { get; init; }

    /// <summary>
    /// chrF++.py-style ε smoothing (mean of per-order F-scores) instead of sacreBLEU's default, the F-score of
    /// precision and recall averaged over the orders both sides have n-grams for.
    /// </summary>
    public bool EpsilonSmoothing { get; init; }

    /// <summary>Scores a corpus.</summary>
    /// <param name="hypotheses">One system output per segment.</param>
    /// <param name="references">For each segment, its references (one or more).</param>
    /// <returns>chrF on the 0–100 scale.</returns>
    /// <exception cref="ArgumentException">A setting is out of range (see <see cref="Validate"/>), the counts differ, or a segment has no reference.</exception>
    public double Score(IReadOnlyList<string> hypotheses, IReadOnlyList<IReadOnlyList<string>> references)
    {
        Validate();
        CorpusArguments.Check(hypotheses, references);

        var corpus = new double[3 * CharOrder];
        for (int s = 0; s < hypotheses.Count; s++)
        {
            double[] best = SegmentStatistics(hypotheses[s], references[s]);
            for (int i = 0; i < corpus.Length; i++)
                corpus[i] += best[i];
        }

        return FScore(corpus);
    }

    /// <summary>Scores one segment against its references.</summary>
    /// <param name="hypothesis">The system output.</param>
    /// <param name="references">Its references (one or more).</param>
    /// <returns>chrF on the 0–100 scale.</returns>
    /// <exception cref="ArgumentException">A setting is out of range (see <see cref="Validate"/>), or there is no reference.</exception>
    public double SentenceScore(string hypothesis, IReadOnlyList<string> references) =>
        Score([hypothesis], [references]);

    /// <summary>Checks the settings and throws an error naming the offending option and value.</summary>
    /// <returns>This instance.</returns>
    /// <exception cref="ArgumentException">
    /// <see cref="CharOrder"/> is not between 1 and 100, or <see cref="Beta"/> is not a number greater
    /// than 0 and at most 1000.
    /// </exception>
    public CorpusChrf Validate()
    {
        CorpusArguments.RequireOption(CharOrder is >= 1 and <= MaxCharOrder, nameof(CorpusChrf), nameof(CharOrder), CharOrder,
            $"it must be between 1 and {MaxCharOrder} (sacreBLEU's default is 6)");

        // NaN fails both comparisons, so it is refused too.
        CorpusArguments.RequireOption(Beta > 0 && Beta <= MaxBeta, nameof(CorpusChrf), nameof(Beta), Beta,
            $"it must be a number greater than 0 and at most {MaxBeta} (sacreBLEU's default is 2; recall weighs β times as much as precision)");

        return this;
    }

    private double[] SegmentStatistics(string hypothesis, IReadOnlyList<string> references)
    {
        var hypothesisNgrams = CharNgrams(hypothesis);
        double[] best = [];
        double bestScore = -1;
        foreach (string reference in references)
        {
            var referenceNgrams = CharNgrams(reference);
            var stats = new double[3 * CharOrder];
            for (int n = 0; n < CharOrder; n++)
            {
                int hypothesisCount = 0, matchCount = 0, referenceCount = referenceNgrams[n].Values.Sum();
                foreach (var (ngram, count) in hypothesisNgrams[n])
                {
                    hypothesisCount += count;
                    matchCount += Math.Min(count, referenceNgrams[n].GetValueOrDefault(ngram));
                }

                // As sacreBLEU: hypothesis n-grams of an order the reference lacks entirely are not counted.
                stats[3 * n] = referenceNgrams[n].Count > 0 ? hypothesisCount : 0;
                stats[(3 * n) + 1] = referenceCount;
                stats[(3 * n) + 2] = matchCount;
            }

            double score = FScore(stats);
            if (score > bestScore || best.Length == 0)
            {
                bestScore = score;
                best = stats;
            }
        }

        return best;
    }

    private double FScore(double[] stats)
    {
        const double Eps = 1e-16;
        double factor = Beta * Beta, epsScore = 0, averagePrecision = 0, averageRecall = 0;
        int effectiveOrder = 0;
        for (int n = 0; n < CharOrder; n++)
        {
            double hyp = stats[3 * n], reference = stats[(3 * n) + 1], match = stats[(3 * n) + 2];
            double precision = hyp > 0 ? match / hyp : Eps;
            double recall = reference > 0 ? match / reference : Eps;
            double denominator = (factor * precision) + recall;
            epsScore += denominator > 0 ? (1 + factor) * precision * recall / denominator : Eps;
            if (hyp > 0 && reference > 0)
            {
                averagePrecision += precision;
                averageRecall += recall;
                effectiveOrder++;
            }
        }

        if (EpsilonSmoothing)
            return 100 * epsScore / CharOrder;
        if (effectiveOrder == 0)
            return 0;
        averagePrecision /= effectiveOrder;
        averageRecall /= effectiveOrder;
        return averagePrecision + averageRecall == 0 ? 0
            : 100 * (1 + factor) * averagePrecision * averageRecall / ((factor * averagePrecision) + averageRecall);
    }

    private Dictionary<string, int>[] CharNgrams(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (Lowercase)
            text = text.ToLowerInvariant();
        if (!IncludeWhitespace)
            text = string.Concat(SacreBleuTokenizer.SplitOnWhitespace(text));

        // Code point boundaries, so that a character outside the BMP counts as one character, as in Python.
        var starts = new List<int>(text.Length + 1);
        for (int i = 0; i < text.Length; i += char.IsSurrogatePair(text, i) ? 2 : 1)
            starts.Add(i);
        int length = starts.Count;
        starts.Add(text.Length);

        var result = new Dictionary<string, int>[CharOrder];
        for (int n = 1; n <= CharOrder; n++)
        {
            var counts = new Dictionary<string, int>(StringComparer.Ordinal);
            for (int i = 0; i + n <= length; i++)
            {
                string ngram = text[starts[i]..starts[i + n]];
                counts[ngram] = counts.GetValueOrDefault(ngram) + 1;
            }

            result[n - 1] = counts;
        }

        return result;
    }
}
