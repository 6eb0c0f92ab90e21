namespace Transformer.MLNet.Network.Metrics;

/// <summary>
/// Picks the most probable tag sequence that is valid IOB2 (an <c>I-TYPE</c> only right after <c>B-TYPE</c> or
/// <c>I-TYPE</c>), by Viterbi search over per-word log-probabilities. Taking each word's best tag alone can emit an
/// <c>I-</c> that continues nothing; this never does.
/// </summary>
internal sealed class Iob2Decoder
{
    private readonly bool[,] _allowed; // [previous, next]
    private readonly bool[] _allowedFirst;

    /// <summary>Prepares the decoder for a label set.</summary>
    /// <param name="labels">The tags, in the order of the scores' last dimension; each <c>O</c>, <c>B-TYPE</c> or <c>I-TYPE</c>.</param>
    /// <exception cref="ArgumentException">A label is not IOB2, or an <c>I-TYPE</c> has no matching <c>B-TYPE</c>.</exception>
    public Iob2Decoder(IReadOnlyList<string> labels)
    {
        ArgumentNullException.ThrowIfNull(labels);
        if (labels.Count == 0)
            throw new ArgumentException("The label set is empty; pass at least 'O'.", nameof(labels));
        Labels = labels;
        var parsed = labels.Select((label, i) => EntitySpans.Parse(label, i)).ToArray();
        foreach (var (prefix, type) in parsed.Where(p => p.Prefix == 'I'))
        {
            if (!parsed.Contains(('B', type)))
                throw new ArgumentException($"Label 'I-{type}' has no 'B-{type}' in the label set, so no valid sequence can use it; add 'B-{type}'.", nameof(labels));
        }

        int n = labels.Count;
        _allowed = new bool[n, n];
        _allowedFirst = new bool[n];
        for (int next = 0; next < n; next++)
        {
            _allowedFirst[next] = parsed[next].Prefix != 'I';
            for (int previous = 0; previous < n; previous++)
                _allowed[previous, next] = parsed[next].Prefix != 'I' || (parsed[previous].Prefix != 'O' && parsed[previous].Type == parsed[next].Type);
        }
    }

    /// <summary>The tags, in score order.</summary>
    public IReadOnlyList<string> Labels { get; }

    /// <summary>The best valid tag sequence for one sentence.</summary>
    /// <param name="logProbabilities">One row per word, one column per label (log-probabilities or any additive scores).</param>
    /// <returns>One label index per word.</returns>
    /// <exception cref="ArgumentException">A row has the wrong length or a non-finite score.</exception>
    public int[] Decode(IReadOnlyList<float[]> logProbabilities)
    {
        ArgumentNullException.ThrowIfNull(logProbabilities);
        int words = logProbabilities.Count, n = Labels.Count;
        if (words == 0)
            return [];

        var score = new double[n];
        var next = new double[n];
        var back = new int[words, n];
        for (int t = 0; t < words; t++)
        {
            float[] row = logProbabilities[t];
            if (row is null || row.Length != n)
                throw new ArgumentException($"Word {t} has {row?.Length ?? 0} scores; expected one per label ({n}).", nameof(logProbabilities));
            for (int j = 0; j < n; j++)
            {
                if (!float.IsFinite(row[j]))
                    throw new ArgumentException($"Word {t}, label '{Labels[j]}': the score {row[j]} is not finite.", nameof(logProbabilities));
                if (t == 0)
                {
                    next[j] = _allowedFirst[j] ? row[j] : double.NegativeInfinity;
                    continue;
                }

                double best = double.NegativeInfinity;
                int from = 0;
                for (int i = 0; i < n; i++)
                {
                    if (_allowed[i, j] && score[i] > best)
                        (best, from) = (score[i], i);
                }

                next[j] = best + row[j];
                back[t, j] = from;
            }

            (score, next) = (next, score);
        }

        var path = new int[words];
        path[words - 1] = Array.IndexOf(score, score.Max());
        for (int t = words - 1; t > 0; t--)
            path[t - 1] = back[t, path[t]];
        return path;
    }
}
