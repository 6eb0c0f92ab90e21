using Microsoft.ML;
using Transformer.MLNet.Mapping;

namespace Transformer.MLNet.Generation;

/// <summary>Reading training text out of an <see cref="IDataView"/> and holding rows out for validation.</summary>
internal static class GenerativeFitting
{
    /// <summary>Reads text columns row by row (null-free: missing text reads as empty).</summary>
    public static List<string[]> ReadRows(IDataView data, params (string Name, string OptionName)[] columns)
    {
        var found = columns.Select(c => TextColumn.Find(data.Schema, c.Name, c.OptionName)).ToArray();
        var rows = new List<string[]>();
        using var cursor = data.GetRowCursor(found.Distinct());
        var readers = found.Select(c => TextColumn.Reader(cursor, c)).ToArray();
        while (cursor.MoveNext())
            rows.Add([.. readers.Select(read => read())]);
        if (rows.Count == 0)
            throw new ArgumentException("The training data has no rows.", nameof(data));
        return rows;
    }

    /// <summary>Seeded split of row indices into training and validation.</summary>
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
