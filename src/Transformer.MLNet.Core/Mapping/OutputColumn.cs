using Microsoft.ML;
using Microsoft.ML.Data;

namespace Transformer.MLNet.Mapping;

/// <summary>
/// One column a mapping adds: its name, type and annotations, and how its value is read from the network's output
/// for one row. A row's output is whatever object the transformer's <see cref="TextMappingTransformer.Map"/> returns
/// for it (a float array of scores, a generated string, a tagged sentence); each column selects its value from it in
/// the column's own type: numbers, keys, text, and vectors of them.
/// </summary>
internal sealed class OutputColumn
{
    private readonly Func<Func<object>, Delegate> makeGetter;

    private OutputColumn(string name, DataViewType type, DataViewSchema.Annotations? annotations, Func<Func<object>, Delegate> makeGetter)
    {
        Name = name;
        Type = type;
        Annotations = annotations ?? Empty;
        this.makeGetter = makeGetter;
    }

    public string Name { get; }

    public DataViewType Type { get; }

    public DataViewSchema.Annotations Annotations { get; }

    /// <summary>A scalar of type <paramref name="type"/> selected from a row output of type <typeparamref name="TRow"/>.</summary>
    public static OutputColumn Scalar<TRow, TValue>(string name, DataViewType type, Func<TRow, TValue> select, DataViewSchema.Annotations? annotations = null) =>
        new(name, type, annotations, row => (ValueGetter<TValue>)((ref TValue value) => value = select((TRow)row())));

    /// <summary>
    /// A vector selected from a row output: of fixed <paramref name="size"/>, or of variable length when it is 0 (one
    /// item per entity, say).
    /// </summary>
    public static OutputColumn Vector<TRow, TItem>(
        string name, PrimitiveDataViewType itemType, int size, Func<TRow, IReadOnlyList<TItem>> select, DataViewSchema.Annotations? annotations = null) =>
        new(name, new VectorDataViewType(itemType, size), annotations, row =>
            (ValueGetter<VBuffer<TItem>>)((ref VBuffer<TItem> value) =>
            {
                var source = select((TRow)row());
                var editor = VBufferEditor.Create(ref value, source.Count);
                for (int i = 0; i < source.Count; i++)
                    editor.Values[i] = source[i];
                value = editor.Commit();
            }));

    /// <summary>A variable-length vector of text selected from a row output.</summary>
    public static OutputColumn TextVector<TRow>(string name, Func<TRow, IReadOnlyList<string>> select, DataViewSchema.Annotations? annotations = null) =>
        Vector<TRow, ReadOnlyMemory<char>>(name, TextDataViewType.Instance, 0, row => [.. select(row).Select(s => s.AsMemory())], annotations);

    /// <summary>The row output itself, a float array, as a fixed-size vector.</summary>
    public static OutputColumn Vector(string name, int size, DataViewSchema.Annotations? annotations = null) =>
        Vector<float[], float>(name, NumberDataViewType.Single, size, row => row, annotations);

    /// <summary>A <see cref="float"/> derived from a float-array row output.</summary>
    public static OutputColumn Single(string name, Func<float[], float> select, DataViewSchema.Annotations? annotations = null) =>
        Scalar(name, NumberDataViewType.Single, select, annotations);

    /// <summary>A <see cref="bool"/> derived from a float-array row output.</summary>
    public static OutputColumn Boolean(string name, Func<float[], bool> select, DataViewSchema.Annotations? annotations = null) =>
        Scalar(name, BooleanDataViewType.Instance, select, annotations);

    /// <summary>A key (1-based; 0 = missing) derived from a float-array row output.</summary>
    public static OutputColumn Key(string name, KeyDataViewType type, Func<float[], uint> select, DataViewSchema.Annotations? annotations = null) =>
        Scalar(name, type, select, annotations);

    /// <summary>The row output itself, a string, as a text column.</summary>
    public static OutputColumn Text(string name, DataViewSchema.Annotations? annotations = null) =>
        Scalar<string, ReadOnlyMemory<char>>(name, TextDataViewType.Instance, text => text.AsMemory(), annotations);

    /// <summary>The columns as a schema of their own.</summary>
    public static DataViewSchema ToSchema(IEnumerable<OutputColumn> columns)
    {
        var builder = new DataViewSchema.Builder();
        foreach (var column in columns)
            builder.AddColumn(column.Name, column.Type, column.Annotations);
        return builder.ToSchema();
    }

    /// <summary>The shapes of the columns, for an estimator's <see cref="IEstimator{TTransformer}.GetOutputSchema"/>.</summary>
    public static IEnumerable<SchemaShape.Column> ToShapes(IEnumerable<OutputColumn> columns) =>
        ToSchema(columns).Select(Schema.SchemaShapeColumns.FromSchemaColumn);

    /// <summary>A getter that reads the current row's output through <paramref name="row"/>.</summary>
    public ValueGetter<TValue> MakeGetter<TValue>(Func<object> row)
    {
        var getter = makeGetter(row);
        return getter as ValueGetter<TValue>
            ?? throw new InvalidOperationException(
                $"Column '{Name}' is of type {Type}; it cannot be read as {typeof(TValue).Name}.");
    }

    private static DataViewSchema.Annotations Empty { get; } = new DataViewSchema.Annotations.Builder().ToAnnotations();
}
