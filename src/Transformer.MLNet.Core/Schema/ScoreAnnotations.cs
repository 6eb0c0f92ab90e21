using Microsoft.ML;
using Microsoft.ML.Data;

namespace Transformer.MLNet.Schema;

/// <summary>The annotations ML.NET's own scorers put on their output columns, so evaluators and transforms recognise ours.</summary>
internal static class ScoreAnnotations
{
    public const string BinaryKind = "BinaryClassification", MulticlassKind = "MulticlassClassification", RegressionKind = "Regression";

    /// <summary>Score of a regressor, as ML.NET's regression scorers mark it.</summary>
    public static DataViewSchema.Annotations Regression() => Kinds(RegressionKind, "Score").ToAnnotations();

    public static DataViewSchema.Annotations Binary(string valueKind, bool isNormalized = false)
    {
        var builder = Kinds(BinaryKind, valueKind);
        if (isNormalized)
            builder.Add(AnnotationNames.IsNormalized, BooleanDataViewType.Instance, (ref bool value) => value = true);
        return builder.ToAnnotations();
    }

    /// <summary>Score of a multiclass classifier: kinds plus the class names as slot names.</summary>
    public static DataViewSchema.Annotations MulticlassScore(IReadOnlyList<string> classNames)
    {
        var builder = Kinds(MulticlassKind, "Score");
        AddTextVector(builder, AnnotationNames.SlotNames, classNames);
        return builder.ToAnnotations();
    }

    /// <summary>Predicted label of a multiclass classifier: kinds plus the class names as key values.</summary>
    public static DataViewSchema.Annotations MulticlassPredictedLabel(IReadOnlyList<string> classNames)
    {
        var builder = Kinds(MulticlassKind, "PredictedLabel");
        AddTextVector(builder, AnnotationNames.KeyValues, classNames);
        return builder.ToAnnotations();
    }

    /// <summary>Names of the classes of a key column: its text key values, or "1", "2", ... when it has none.</summary>
    public static string[] ClassNames(DataViewSchema.Column label, int count)
    {
        var keyValues = label.Annotations.Schema.GetColumnOrNull(AnnotationNames.KeyValues);
        if (keyValues is { Type: VectorDataViewType { ItemType: TextDataViewType } })
        {
            VBuffer<ReadOnlyMemory<char>> names = default;
            label.Annotations.GetValue(AnnotationNames.KeyValues, ref names);
            var dense = names.DenseValues().Select(n => n.ToString()).ToArray();
            if (dense.Length == count)
                return dense;
        }
        else if (keyValues is { Type: VectorDataViewType vector })
        {
            return ReadAsStrings(label, vector, count);
        }

        return Enumerable.Range(1, count).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToArray();
    }

    private static string[] ReadAsStrings(DataViewSchema.Column label, VectorDataViewType vector, int count)
    {
        string[] Read<T>()
        {
            VBuffer<T> values = default;
            label.Annotations.GetValue(AnnotationNames.KeyValues, ref values);
            return values.DenseValues().Select(v => Convert.ToString(v, System.Globalization.CultureInfo.InvariantCulture) ?? "").ToArray();
        }

        var names = vector.ItemType.RawType switch
        {
            var t when t == typeof(float) => Read<float>(),
            var t when t == typeof(double) => Read<double>(),
            var t when t == typeof(int) => Read<int>(),
            var t when t == typeof(long) => Read<long>(),
            var t when t == typeof(uint) => Read<uint>(),
            var t when t == typeof(bool) => Read<bool>(),
            _ => [],
        };
        return names.Length == count ? names : Enumerable.Range(1, count).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToArray();
    }

    private static DataViewSchema.Annotations.Builder Kinds(string columnKind, string valueKind)
    {
        var builder = new DataViewSchema.Annotations.Builder();
        builder.Add(AnnotationNames.ScoreColumnKind, TextDataViewType.Instance, (ref ReadOnlyMemory<char> value) => value = columnKind.AsMemory());
        builder.Add(AnnotationNames.ScoreValueKind, TextDataViewType.Instance, (ref ReadOnlyMemory<char> value) => value = valueKind.AsMemory());
        return builder;
    }

    internal static void AddTextVector(DataViewSchema.Annotations.Builder builder, string name, IReadOnlyList<string> values)
    {
        var memory = values.Select(v => v.AsMemory()).ToArray();
        builder.Add(name, new VectorDataViewType(TextDataViewType.Instance, memory.Length),
            (ref VBuffer<ReadOnlyMemory<char>> value) => value = new VBuffer<ReadOnlyMemory<char>>(memory.Length, (ReadOnlyMemory<char>[])memory.Clone()));
    }
}
