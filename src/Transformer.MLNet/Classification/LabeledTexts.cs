using Microsoft.ML;
using Microsoft.ML.Data;
using Transformer.MLNet.Mapping;
using Transformer.MLNet.Network.Classification;

namespace Transformer.MLNet.Classification;

/// <summary>
/// Texts (or text pairs) with 0-based class ids or real targets, read from a data view: the managed input of the
/// network's trainer.
/// </summary>
internal sealed record LabeledTexts(string[] Texts, string[]? SecondTexts, int[] Labels)
{
    /// <summary>Rows left out because their label was missing (key 0, e.g. a NaN or unseen value before MapValueToKey).</summary>
    public int SkippedRows { get; init; }

    /// <summary>Regression targets (then <see cref="Labels"/> is empty).</summary>
    public float[]? Targets { get; init; }

    /// <summary>The examples as the network's trainer takes them.</summary>
    public TextExamples ToExamples() => new(Texts, SecondTexts) { Labels = Targets is null ? Labels : null, Targets = Targets };

    /// <summary>The rows at <paramref name="rows"/>, in that order.</summary>
    public LabeledTexts Select(IReadOnlyList<int> rows) => new(
        [.. rows.Select(r => Texts[r])], SecondTexts is null ? null : [.. rows.Select(r => SecondTexts[r])],
        Targets is null ? [.. rows.Select(r => Labels[r])] : [])
    {
        Targets = Targets is null ? null : [.. rows.Select(r => Targets[r])],
    };

    /// <summary>Reads a Boolean label: false → class 0, true → class 1.</summary>
    public static LabeledTexts ReadBinary(IDataView data, TextClassifierOptions options)
    {
        var label = FindLabel(data.Schema, options.LabelColumnName);
        if (label.Type is not BooleanDataViewType)
        {
            throw new ArgumentOutOfRangeException(nameof(TextClassifierOptions.LabelColumnName),
                $"Label column '{options.LabelColumnName}' must be Boolean for binary classification but is {label.Type}. " +
                "Load the label as bool, or use the multiclass trainer with MapValueToKey.");
        }

        var labels = new List<int>();
        var (texts, seconds, _) = Read(data, options, label, (DataViewRow row) =>
        {
            var getter = row.GetGetter<bool>(label);
            bool value = false;
            return () =>
            {
                getter(ref value);
                labels.Add(value ? 1 : 0);
                return true;
            };
        });
        return new LabeledTexts(texts, seconds, [.. labels]);
    }

    /// <summary>Reads a key label (1-based in the data view) as 0-based classes; rows with a missing key are skipped.</summary>
    public static LabeledTexts ReadKey(IDataView data, TextClassifierOptions options, out int classCount)
    {
        var label = FindLabel(data.Schema, options.LabelColumnName);
        classCount = KeyCount(label);
        var labels = new List<int>();
        var (texts, seconds, skipped) = Read(data, options, label, (DataViewRow row) =>
        {
            var getter = row.GetGetter<uint>(label);
            uint key = 0;
            return () =>
            {
                getter(ref key);
                if (key == 0)
                    return false;
                labels.Add((int)key - 1);
                return true;
            };
        });
        return new LabeledTexts(texts, seconds, [.. labels]) { SkippedRows = skipped };
    }

    /// <summary>Reads a Single label as regression targets; a NaN or infinite label is an error naming the column and row.</summary>
    public static LabeledTexts ReadTargets(IDataView data, TextClassifierOptions options)
    {
        var label = FindLabel(data.Schema, options.LabelColumnName);
        if (label.Type != NumberDataViewType.Single)
        {
            throw new ArgumentOutOfRangeException(nameof(TextClassifierOptions.LabelColumnName),
                $"Label column '{options.LabelColumnName}' must be Single (float) for regression but is {label.Type}. Load the label as float.");
        }

        var targets = new List<float>();
        var (texts, seconds, _) = Read(data, options, label, (DataViewRow row) =>
        {
            var getter = row.GetGetter<float>(label);
            float value = 0;
            return () =>
            {
                getter(ref value);
                if (!float.IsFinite(value))
                {
                    throw new InvalidOperationException(
                        $"Row {row.Position}: label column '{options.LabelColumnName}' is {value}; a regression label must be a finite number. " +
                        "Fill in or filter out rows with a missing label.");
                }

                targets.Add(value);
                return true;
            };
        });
        return new LabeledTexts(texts, seconds, []) { Targets = [.. targets] };
    }

    /// <summary>
    /// Reads the text columns of every row whose label <paramref name="readLabel"/> keeps (it returns false to skip a
    /// row); a pair's empty or whitespace-only second text is an error naming the column and row.
    /// </summary>
    private static (string[] Texts, string[]? SecondTexts, int Skipped) Read(
        IDataView data, TextClassifierOptions options, DataViewSchema.Column label, Func<DataViewRow, Func<bool>> readLabel)
    {
        var text = TextColumn.Find(data.Schema, options.TextColumnName, nameof(TextClassifierOptions.TextColumnName));
        var second = options.SecondTextColumnName is { } name ? TextColumn.Find(data.Schema, name, nameof(TextClassifierOptions.SecondTextColumnName)) : (DataViewSchema.Column?)null;
        var texts = new List<string>();
        var seconds = second is null ? null : new List<string>();
        int skipped = 0;
        using var cursor = data.GetRowCursor(second is { } s ? [text, label, s] : [text, label]);
        var readText = TextColumn.Reader(cursor, text);
        var readSecond = second is { } column ? TextColumn.SecondTextReader(cursor, column, nameof(TextClassifierOptions.SecondTextColumnName)) : null;
        var keep = readLabel(cursor);
        while (cursor.MoveNext())
        {
            if (!keep())
            {
                skipped++;
                continue;
            }

            texts.Add(readText());
            if (readSecond is not null)
                seconds!.Add(readSecond());
        }

        return ([.. texts], seconds is null ? null : [.. seconds], skipped);
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
