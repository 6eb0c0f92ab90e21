using System.Reflection;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace Transformer.MLNet.Schema;

/// <summary>
/// Builds <see cref="SchemaShape"/> columns. ML.NET 5.0.1 keeps the <see cref="SchemaShape.Column"/> constructor
/// internal, yet an estimator's <see cref="IEstimator{TTransformer}.GetOutputSchema"/> must add its columns: this is
/// the one place that reaches it by reflection. A unit test fails loudly if ML.NET changes the constructor.
/// </summary>
internal static class SchemaShapeColumns
{
    private static readonly ConstructorInfo? ColumnConstructor = typeof(SchemaShape.Column).GetConstructor(
        BindingFlags.Instance | BindingFlags.NonPublic | BindingFlags.Public,
        binder: null,
        [typeof(string), typeof(SchemaShape.Column.VectorKind), typeof(DataViewType), typeof(bool), typeof(SchemaShape)],
        modifiers: null);

    /// <summary>Whether the running ML.NET still has the constructor this helper relies on.</summary>
    public static bool IsSupported => ColumnConstructor is not null;

    /// <summary>A column of the given shape; <paramref name="annotations"/> lists the annotation columns it carries.</summary>
    public static SchemaShape.Column Create(
        string name, SchemaShape.Column.VectorKind kind, DataViewType itemType, bool isKey, params SchemaShape.Column[] annotations)
    {
        if (ColumnConstructor is null)
        {
            throw new NotSupportedException(
                "This ML.NET version has no SchemaShape.Column(string, VectorKind, DataViewType, bool, SchemaShape) constructor; " +
                "Transformer.MLNet supports Microsoft.ML 5.0.x.");
        }

        var annotationShape = annotations.Length == 0 ? null : new SchemaShape(annotations);
        return (SchemaShape.Column)ColumnConstructor.Invoke([name, kind, itemType, isKey, annotationShape]);
    }

    /// <summary>The shape of a built <see cref="DataViewSchema"/> column, annotations included.</summary>
    public static SchemaShape.Column FromSchemaColumn(DataViewSchema.Column column)
    {
        var annotations = column.Annotations.Schema.Select(FromSchemaColumn).ToArray();
        var type = column.Type;
        var kind = type is VectorDataViewType vector
            ? vector.IsKnownSize ? SchemaShape.Column.VectorKind.Vector : SchemaShape.Column.VectorKind.VariableVector
            : SchemaShape.Column.VectorKind.Scalar;
        var itemType = type is VectorDataViewType v ? v.ItemType : type;
        bool isKey = itemType is KeyDataViewType;
        // SchemaShape describes key columns by their underlying raw type, as ML.NET's own estimators do.
        var shapeItemType = itemType is KeyDataViewType key ? ColumnTypeOfRaw(key.RawType) : itemType;
        return Create(column.Name, kind, shapeItemType, isKey, annotations);
    }

    /// <summary>
    /// <paramref name="input"/> with <paramref name="added"/> appended; an added column replaces an input column of
    /// the same name, as it does in the transformed data.
    /// </summary>
    public static SchemaShape Append(SchemaShape input, IEnumerable<SchemaShape.Column> added)
    {
        var columns = input.ToDictionary(c => c.Name);
        foreach (var column in added)
            columns[column.Name] = column;
        return new SchemaShape(columns.Values);
    }

    private static DataViewType ColumnTypeOfRaw(Type raw) =>
        raw == typeof(uint) ? NumberDataViewType.UInt32
        : raw == typeof(ulong) ? NumberDataViewType.UInt64
        : raw == typeof(ushort) ? NumberDataViewType.UInt16
        : raw == typeof(byte) ? NumberDataViewType.Byte
        : throw new NotSupportedException($"Key raw type {raw} is not supported.");
}
