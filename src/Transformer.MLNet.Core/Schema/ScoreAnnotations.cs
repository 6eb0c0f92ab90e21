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

    /// <summary>Predicted label of a multiclass classifier: kinds plus the classes' key values, in their own item type.</summary>
    public static DataViewSchema.Annotations MulticlassPredictedLabel(ClassKeyValues classes)
    {
        var builder = Kinds(MulticlassKind, "PredictedLabel");
        classes.AddTo(builder, AnnotationNames.KeyValues);
        return builder.ToAnnotations();
    }

    /// <summary>
    /// Names of the classes of a key column: its key values as text (numbers and Booleans in invariant culture), or
    /// "1", "2", ... when it has none or of a type <see cref="ClassKeyValues"/> does not keep.
    /// </summary>
    public static string[] ClassNames(DataViewSchema.Column label, int count) => [.. ClassKeyValues.Read(label, count).Names];

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
