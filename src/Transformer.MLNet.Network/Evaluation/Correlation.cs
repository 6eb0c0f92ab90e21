using System.Globalization;

namespace Transformer.MLNet.Network.Evaluation;

/// <summary>Correlation coefficients, as used to score semantic similarity (STS) against gold ratings.</summary>
public static class Correlation
{
    /// <summary>Pearson's r of two equally long series.</summary>
    /// <param name="x">First series.</param>
    /// <param name="y">Second series.</param>
    /// <returns>r in [−1, 1]; <see cref="double.NaN"/> when either series is constant, since r is undefined then (as scipy.stats.pearsonr).</returns>
    /// <exception cref="ArgumentException">The series differ in length, have fewer than 2 values, or hold a value that is NaN or infinite.</exception>
    public static double Pearson(IReadOnlyList<double> x, IReadOnlyList<double> y)
    {
        Check(x, y);
        if (IsConstant(x) || IsConstant(y))
            return double.NaN;
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
    /// <returns>ρ in [−1, 1]; <see cref="double.NaN"/> when either series is constant, since ρ is undefined then (as scipy.stats.spearmanr).</returns>
    /// <exception cref="ArgumentException">The series differ in length, have fewer than 2 values, or hold a value that is NaN or infinite.</exception>
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
        CheckFinite(x, nameof(x));
        CheckFinite(y, nameof(y));
    }

    private static void CheckFinite(IReadOnlyList<double> values, string name)
    {
        for (int i = 0; i < values.Count; i++)
        {
            if (!double.IsFinite(values[i]))
            {
                throw new ArgumentException(
                    string.Create(CultureInfo.InvariantCulture, $"{name}[{i}] = {values[i]}: a correlation needs finite values; drop or fix that entry."), name);
            }
        }
    }

    private static bool IsConstant(IReadOnlyList<double> values)
    {
        for (int i = 1; i < values.Count; i++)
        {
            if (values[i] != values[0])
                return false;
        }

        return true;
    }
}
