using Microsoft.ML;
using Microsoft.ML.Runtime;
using Transformer.MLNet.Mapping;

namespace Transformer.MLNet.Generation;

/// <summary>Reading training text out of an <see cref="IDataView"/>.</summary>
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

    /// <summary>
    /// The seed in effect (the option's or one drawn from the <c>MLContext</c>) and the training and validation rows:
    /// the <see cref="TrainableEstimatorOptions.ValidationSet"/> when given, otherwise a seeded holdout.
    /// </summary>
    public static (List<T> Train, List<T>? Validation, int Seed) Prepare<T>(
        IHostEnvironment environment, string component, GenerativeEstimatorOptions options, List<T> rows, Func<IDataView, List<T>> read)
    {
        int seed = options.Seed ?? environment.Register(component).Rand.Next();
        if (options.ValidationSet is { } validationSet)
            return (rows, read(validationSet), seed);
        var (train, validation) = Holdout.Split(rows, options.ValidationFraction, seed);
        return (train, validation, seed);
    }
}
