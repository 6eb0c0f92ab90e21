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

    /// <summary>Highest n-gram order N (default 4; 1 to 100).</summary>
    public int MaxOrder { get; init; } = 4;

    /// <summary>The largest <see cref="MaxOrder"/> accepted (sacreBLEU's default is 4).</summary>
    internal const int MaxOrderLimit = 100;

    /// <summary>Smoothing of orders without matches (default exponential, as in sacreBLEU).</summary>
    public BleuSmoothing Smoothing { get; init; } = BleuSmoothing.Exponential;

    /// <summary>
    /// The value for <see cref="BleuSmoothing.Floor"/> (default 0.1; 0 to 1, the match count given to an order
    /// without matches) and <see cref="BleuSmoothing.AddK"/> (default 1; any finite value of 0 or more). Other
    /// smoothings ignore it, but it must still be a finite number of 0 or more when set.
    /// </summary>
    public double? SmoothingValue { get; init; }

    /// <summary>Average only over the orders the hypotheses have n-grams for (for very short segments).</summary>
    public bool EffectiveOrder { get; init; }

    /// <summary>Scores a corpus.</summary>
    /// <param name="hypotheses">One system output per segment.</param>
    /// <param name="references">For each segment, its references (one or more; any number per segment).</param>
    /// <returns>The corpus score.</returns>
    /// <exception cref="ArgumentException">A setting is out of range (see <see cref="Validate"/>), the counts differ, or a segment has no reference.</exception>
    public BleuScore Score(IReadOnlyList<string> hypotheses, IReadOnlyList<IReadOnlyList<string>> references)
    {
        Validate();
        CorpusArguments.Check(hypotheses, references);

        var matches = new double[MaxOrder];
        var totals = new double[MaxOrder];
        long hypothesisLength = 0, referenceLength = 0;
        for (int s = 0; s < hypotheses.Count; s++)
        {
            var segmentReferences = references[s];

            // Words become ids shared by the segment's hypothesis and references, so an n-gram is a run of ids whose
            // order is its length: no character of the text (a control character inside a word, say) can change either.
            var vocabulary = new Dictionary<string, int>(StringComparer.Ordinal);
            int[] hypothesis = Intern(Preprocess(hypotheses[s]), vocabulary);
            var maxReferenceCounts = new Dictionary<Ngram, int>();
            var referenceLengths = new List<int>(segmentReferences.Count);
            foreach (string reference in segmentReferences)
            {
                int[] words = Intern(Preprocess(reference), vocabulary);
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
                totals[ngram.Order - 1] += count;
                if (maxReferenceCounts.TryGetValue(ngram, out int referenceCount))
                    matches[ngram.Order - 1] += Math.Min(count, referenceCount);
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
    /// <exception cref="ArgumentException">
    /// A setting is out of range (see <see cref="Validate"/>); the lists are not <see cref="MaxOrder"/> long; a count or
    /// length is negative or not finite; or an order has more matches than n-grams.
    /// </exception>
    public BleuScore FromStatistics(IReadOnlyList<double> matches, IReadOnlyList<double> totals, long hypothesisLength, long referenceLength)
    {
        Validate();
        ArgumentNullException.ThrowIfNull(matches);
        ArgumentNullException.ThrowIfNull(totals);
        if (matches.Count != MaxOrder || totals.Count != MaxOrder)
            throw new ArgumentException($"Expected {MaxOrder} matches and totals (MaxOrder), got {matches.Count} and {totals.Count}.", nameof(matches));
        CheckStatistics(matches, totals, hypothesisLength, referenceLength);

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

    /// <summary>Checks the settings and throws an error naming the offending option and value.</summary>
    /// <returns>This instance.</returns>
    /// <exception cref="ArgumentException">
    /// <see cref="MaxOrder"/> is not between 1 and 100; <see cref="Tokenization"/> or
    /// <see cref="Smoothing"/> is not one of its named values; or <see cref="SmoothingValue"/> is negative, not finite,
    /// or above 1 for <see cref="BleuSmoothing.Floor"/>.
    /// </exception>
    public CorpusBleu Validate()
    {
        RequireOption(MaxOrder is >= 1 and <= MaxOrderLimit, nameof(MaxOrder), MaxOrder,
            $"it must be between 1 and {MaxOrderLimit} (sacreBLEU's default is 4)");
        RequireOption(Enum.IsDefined(Tokenization), nameof(Tokenization), Tokenization,
            $"use one of {string.Join(", ", Enum.GetNames<BleuTokenization>())}");
        RequireOption(Enum.IsDefined(Smoothing), nameof(Smoothing), Smoothing,
            $"use one of {string.Join(", ", Enum.GetNames<BleuSmoothing>())}");
        if (SmoothingValue is double value)
        {
            RequireOption(double.IsFinite(value) && value >= 0, nameof(SmoothingValue), value,
                "it must be a finite number of 0 or more, or null for the default (0.1 for Floor, 1 for AddK)");
            RequireOption(Smoothing != BleuSmoothing.Floor || value <= 1, nameof(SmoothingValue), value,
                "Floor smoothing stands in a match count between 0 and 1 for an order without matches (default 0.1)");
        }

        return this;
    }

    private static void RequireOption(bool ok, string option, object? value, string rule) =>
        CorpusArguments.RequireOption(ok, nameof(CorpusBleu), option, value, rule);

    private static void CheckStatistics(IReadOnlyList<double> matches, IReadOnlyList<double> totals, long hypothesisLength, long referenceLength)
    {
        for (int n = 0; n < matches.Count; n++)
        {
            if (!double.IsFinite(matches[n]) || matches[n] < 0)
                throw new ArgumentException($"matches[{n}] = {matches[n]} is invalid: match counts must be finite numbers of 0 or more.", nameof(matches));
            if (!double.IsFinite(totals[n]) || totals[n] < 0)
                throw new ArgumentException($"totals[{n}] = {totals[n]} is invalid: n-gram counts must be finite numbers of 0 or more.", nameof(totals));
            if (matches[n] > totals[n])
            {
                throw new ArgumentException(
                    $"matches[{n}] = {matches[n]} is more than totals[{n}] = {totals[n]}: the clipped matches of an order cannot exceed " +
                    "the hypothesis n-grams of that order; pass matches and totals of the same orders, matches first.", nameof(matches));
            }
        }

        if (hypothesisLength < 0)
            throw new ArgumentException($"hypothesisLength = {hypothesisLength} is invalid: a word count must be 0 or more.", nameof(hypothesisLength));
        if (referenceLength < 0)
            throw new ArgumentException($"referenceLength = {referenceLength} is invalid: a word count must be 0 or more.", nameof(referenceLength));
    }

    private string[] Preprocess(string segment)
    {
        ArgumentNullException.ThrowIfNull(segment);
        string text = Lowercase ? segment.ToLowerInvariant() : segment;
        return SacreBleuTokenizer.Tokenize(text.TrimEnd(), Tokenization);
    }

    /// <summary>The id of each word, adding the words not yet seen to the vocabulary.</summary>
    private static int[] Intern(string[] words, Dictionary<string, int> vocabulary)
    {
        var ids = new int[words.Length];
        for (int i = 0; i < words.Length; i++)
        {
            if (!vocabulary.TryGetValue(words[i], out ids[i]))
            {
                ids[i] = vocabulary.Count;
                vocabulary.Add(words[i], ids[i]);
            }
        }

        return ids;
    }

    private static Dictionary<Ngram, int> CountNgrams(int[] words, int maxOrder)
    {
        var counts = new Dictionary<Ngram, int>();
        for (int n = 1; n <= maxOrder; n++)
        {
            for (int i = 0; i + n <= words.Length; i++)
            {
                var key = new Ngram(words, i, n);
                counts[key] = counts.GetValueOrDefault(key) + 1;
            }
        }

        return counts;
    }

    /// <summary>The word ids <c>words[start..start + Order]</c>; equal when the ids are, whichever array holds them.</summary>
    private readonly struct Ngram : IEquatable<Ngram>
    {
        private readonly int[] words;
        private readonly int start;

        public Ngram(int[] words, int start, int order)
        {
            this.words = words;
            this.start = start;
            Order = order;
        }

        public int Order { get; }

        private ReadOnlySpan<int> Ids => words.AsSpan(start, Order);

        public bool Equals(Ngram other) => Ids.SequenceEqual(other.Ids);

        public override bool Equals(object? obj) => obj is Ngram other && Equals(other);

        public override int GetHashCode()
        {
            var hash = default(HashCode);
            foreach (int id in Ids)
                hash.Add(id);
            return hash.ToHashCode();
        }
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
