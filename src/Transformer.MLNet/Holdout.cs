namespace Transformer.MLNet;

/// <summary>Holds training rows out for validation, the same way for every estimator (<see cref="TrainableEstimatorOptions.ValidationFraction"/>).</summary>
internal static class Holdout
{
    /// <summary>Seeded split of rows into training and validation, each keeping the rows' order.</summary>
    /// <returns>All rows and null when the fraction rounds to no row or to every row.</returns>
    public static (List<T> Train, List<T>? Validation) Split<T>(IReadOnlyList<T> rows, double fraction, int seed)
    {
        int validationCount = (int)Math.Round(rows.Count * fraction);
        if (validationCount == 0 || validationCount >= rows.Count)
            return ([.. rows], null);
        int[] order = [.. Enumerable.Range(0, rows.Count)];
        new Random(seed).Shuffle(order);
        var held = order.Take(validationCount).Order().Select(i => rows[i]).ToList();
        var train = order.Skip(validationCount).Order().Select(i => rows[i]).ToList();
        return (train, held);
    }
}
