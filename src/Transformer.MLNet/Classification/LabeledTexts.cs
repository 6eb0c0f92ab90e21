using Microsoft.ML;
using Microsoft.ML.Data;
using Transformer.MLNet.Mapping;

namespace Transformer.MLNet.Classification;

/// <summary>Texts and 0-based class ids read from a data view, the managed input of the network's trainer.</summary>
internal sealed record LabeledTexts(string[] Texts, int[] Labels)
{
    /// <summary>Reads a Boolean label: false → class 0, true → class 1.</summary>
    public static LabeledTexts ReadBinary(IDataView data, string textColumnName, string labelColumnName)
    {
        var text = TextColumn.Find(data.Schema, textColumnName, nameof(TextClassifierOptions.TextColumnName));
        var label = FindLabel(data.Schema, labelColumnName);
        if (label.Type is not BooleanDataViewType)
        {
            throw new ArgumentOutOfRangeException(nameof(TextClassifierOptions.LabelColumnName),
                $"Label column '{labelColumnName}' must be Boolean for binary classification but is {label.Type}. " +
                "Load the label as bool, or use the multiclass trainer with MapValueToKey.");
        }

        var texts = new List<string>();
        var labels = new List<int>();
        using var cursor = data.GetRowCursor([text, label]);
        var readText = TextColumn.Reader(cursor, text);
        var readLabel = cursor.GetGetter<bool>(label);
        bool value = false;
        while (cursor.MoveNext())
        {
            readLabel(ref value);
            texts.Add(readText());
            labels.Add(value ? 1 : 0);
        }

        return new LabeledTexts([.. texts], [.. labels]);
    }

    /// <summary>Reads a key label (1-based in the data view) as 0-based classes; rows with a missing key are skipped.</summary>
    public static LabeledTexts ReadKey(IDataView data, string textColumnName, string labelColumnName, out int classCount)
    {
        var text = TextColumn.Find(data.Schema, textColumnName, nameof(TextClassifierOptions.TextColumnName));
        var label = FindLabel(data.Schema, labelColumnName);
        classCount = KeyCount(label);
        var texts = new List<string>();
        var labels = new List<int>();
        using var cursor = data.GetRowCursor([text, label]);
        var readText = TextColumn.Reader(cursor, text);
        var readLabel = cursor.GetGetter<uint>(label);
        uint key = 0;
        while (cursor.MoveNext())
        {
            readLabel(ref key);
            if (key == 0)
                continue;
            texts.Add(readText());
            labels.Add((int)key - 1);
        }

        return new LabeledTexts([.. texts], [.. labels]);
    }

    /// <summary>The number of classes of a key label column.</summary>
    public static int KeyCount(DataViewSchema.Column label)
    {
        if (label.Type is not KeyDataViewType { RawType: var raw, Count: var count } || raw != typeof(uint) || count is 0 or > int.MaxValue)
        {
            throw new ArgumentOutOfRangeException(nameof(TextClassifierOptions.LabelColumnName),
                $"Label column '{label.Name}' must be a UInt32 key with a known count for multiclass classification but is {label.Type}. " +
                $"Add mlContext.Transforms.Conversion.MapValueToKey(\"{label.Name}\") before the trainer.");
        }

        return (int)count;
    }

    private static DataViewSchema.Column FindLabel(DataViewSchema schema, string name) =>
        schema.GetColumnOrNull(name)
        ?? throw new ArgumentOutOfRangeException(nameof(TextClassifierOptions.LabelColumnName),
            $"Label column '{name}' (LabelColumnName) is not in the data. Columns: {string.Join(", ", schema.Where(c => !c.IsHidden).Select(c => c.Name))}.");
}
