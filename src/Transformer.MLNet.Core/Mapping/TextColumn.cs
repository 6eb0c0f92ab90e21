using Microsoft.ML;
using Microsoft.ML.Data;

namespace Transformer.MLNet.Mapping;

/// <summary>Finds, checks and reads the text column a mapping reads: scalar text, or where allowed a vector of words.</summary>
internal static class TextColumn
{
    /// <summary>The column named <paramref name="name"/>, which must be a scalar text column (or a vector of text when <paramref name="allowWords"/>).</summary>
    /// <exception cref="ArgumentOutOfRangeException">The column is missing or not text.</exception>
    public static DataViewSchema.Column Find(DataViewSchema schema, string name, string optionName, bool allowWords = false)
    {
        var column = schema.GetColumnOrNull(name)
            ?? throw new ArgumentOutOfRangeException(optionName,
                $"Input column '{name}' ({optionName}) is not in the data. Columns: {string.Join(", ", schema.Where(c => !c.IsHidden).Select(c => c.Name))}.");
        if (column.Type is not TextDataViewType && !(allowWords && IsWords(column.Type)))
        {
            throw new ArgumentOutOfRangeException(optionName,
                $"Input column '{name}' ({optionName}) must be of type String (text){(allowWords ? " or a vector of String (words)" : "")} but is {column.Type}. Load it as text.");
        }

        return column;
    }

    /// <summary>The same check on an estimator's input shape.</summary>
    public static void Check(SchemaShape shape, string name, string optionName, bool allowWords = false)
    {
        var found = shape.Where(c => c.Name == name).ToList();
        if (found.Count == 0)
        {
            throw new ArgumentOutOfRangeException(optionName,
                $"Input column '{name}' ({optionName}) is not in the data. Columns: {string.Join(", ", shape.Select(c => c.Name))}.");
        }

        var column = found[^1];
        bool scalar = column.Kind == SchemaShape.Column.VectorKind.Scalar;
        if (column.ItemType is not TextDataViewType || !(scalar || allowWords))
        {
            throw new ArgumentOutOfRangeException(optionName,
                $"Input column '{name}' ({optionName}) must be a scalar String (text){(allowWords ? " or a vector of String (words)" : "")} column " +
                $"but is {column.Kind} of {column.ItemType}. Load it as text.");
        }
    }

    /// <summary>Reads the text of the current row.</summary>
    public static Func<string> Reader(DataViewRow row, DataViewSchema.Column column)
    {
        var getter = row.GetGetter<ReadOnlyMemory<char>>(column);
        ReadOnlyMemory<char> value = default;
        return () =>
        {
            getter(ref value);
            return value.ToString();
        };
    }

    /// <summary>Reads the current row's value: a <see cref="string"/> for a text column, a <see cref="string"/> array for a vector of words.</summary>
    public static Func<object> ValueReader(DataViewRow row, DataViewSchema.Column column)
    {
        if (!IsWords(column.Type))
            return Reader(row, column);
        var getter = row.GetGetter<VBuffer<ReadOnlyMemory<char>>>(column);
        VBuffer<ReadOnlyMemory<char>> value = default;
        return () =>
        {
            getter(ref value);
            return value.DenseValues().Select(word => word.ToString()).ToArray();
        };
    }

    /// <summary>Whether two values from <see cref="ValueReader"/> are the same input.</summary>
    public static bool SameValue(object? a, object? b) => (a, b) switch
    {
        (string x, string y) => string.Equals(x, y, StringComparison.Ordinal),
        (string[] x, string[] y) => x.AsSpan().SequenceEqual(y),
        _ => false,
    };

    private static bool IsWords(DataViewType type) => type is VectorDataViewType { ItemType: TextDataViewType };

    /// <summary>Reads the second text of a pair on the current row; an empty or whitespace-only value is an error naming the column and row.</summary>
    /// <param name="row">The row or cursor.</param>
    /// <param name="column">The second text column.</param>
    /// <param name="optionName">The option that named the column, for the message.</param>
    public static Func<string> SecondTextReader(DataViewRow row, DataViewSchema.Column column, string optionName)
    {
        var read = Reader(row, column);
        return () =>
        {
            string text = read();
            if (string.IsNullOrWhiteSpace(text))
            {
                throw new InvalidOperationException(
                    $"Row {row.Position}: the second text column '{column.Name}' ({optionName}) is empty, blank or missing; every pair needs a second text. " +
                    "Fill it in or filter such rows out.");
            }

            return text;
        };
    }
}
