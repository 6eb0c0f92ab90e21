namespace Transformer.MLNet.Network.Evaluation;

/// <summary>Correlation coefficients, as used to score semantic similarity (STS) against gold ratings.</summary>
public static class Correlation
{
    /// <summary>Pearson's r of two equally long series.</summary>
    /// <param name="x">First series.</param>
    /// <param name="y">Second series.</param>
    public static double Pearson(IReadOnlyList<double> x, IReadOnlyList<double> y)
    {
        Check(x, y);
        double meanX = x.Average(), meanY = y.Average();
        double sxy = 0, sxx = 0, syy = 0;
        for (int i = 0; i < x.Count; i++)
        {
            double dx = x[i] - meanX, dy = y[i] - meanY;
            sxy += dx * dy;
            sxx += dx * dx;
            syy += dy * dy;
        }

        return sxy / Math.Sqrt(sxx * syy);
    }

    /// <summary>Spearman's ρ: Pearson's r of the ranks, ties given their average rank (as scipy.stats.spearmanr).</summary>
    /// <param name="x">First series.</param>
    /// <param name="y">Second series.</param>
    public static double Spearman(IReadOnlyList<double> x, IReadOnlyList<double> y)
    {
        Check(x, y);
        return Pearson(Ranks(x), Ranks(y));
    }

    private static double[] Ranks(IReadOnlyList<double> values)
    {
        int[] order = Enumerable.Range(0, values.Count).OrderBy(i => values[i]).ToArray();
        var ranks = new double[values.Count];
        for (int start = 0; start < order.Length;)
        {
            int end = start;
            while (end + 1 < order.Length && values[order[end + 1]] == values[order[start]])
                end++;
            double rank = (start + end) / 2.0 + 1; // 1-based average rank of the tie group
            for (int k = start; k <= end; k++)
                ranks[order[k]] = rank;
            start = end + 1;
        }

        return ranks;
    }

    private static void Check(IReadOnlyList<double> x, IReadOnlyList<double> y)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(y);
        if (x.Count != y.Count || x.Count < 2)
            throw new ArgumentException($"Correlation needs two series of equal length, at least 2; got {x.Count} and {y.Count}.");
    }
}
