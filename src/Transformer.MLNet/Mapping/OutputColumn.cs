using Microsoft.ML;
using Microsoft.ML.Data;

namespace Transformer.MLNet.Mapping;

/// <summary>
/// One column a text mapping adds: its name, type and annotations, and how its value is read from the network's
/// output for one row (a managed <see cref="float"/> array).
/// </summary>
internal sealed class OutputColumn
{
    private readonly Func<Func<float[]>, Delegate> makeGetter;

    private OutputColumn(string name, DataViewType type, DataViewSchema.Annotations annotations, Func<Func<float[]>, Delegate> makeGetter)
    {
        Name = name;
        Type = type;
        Annotations = annotations;
        this.makeGetter = makeGetter;
    }

    public string Name { get; }

    public DataViewType Type { get; }

    public DataViewSchema.Annotations Annotations { get; }

    /// <summary>The row output itself as a fixed-size vector.</summary>
    public static OutputColumn Vector(string name, int size, DataViewSchema.Annotations? annotations = null) =>
        new(name, new VectorDataViewType(NumberDataViewType.Single, size), annotations ?? Empty, row =>
            (ValueGetter<VBuffer<float>>)((ref VBuffer<float> value) =>
            {
                float[] source = row();
                var editor = VBufferEditor.Create(ref value, source.Length);
                source.CopyTo(editor.Values);
                value = editor.Commit();
            }));

    /// <summary>A <see cref="float"/> derived from the row output.</summary>
    public static OutputColumn Single(string name, Func<float[], float> select, DataViewSchema.Annotations? annotations = null) =>
        new(name, NumberDataViewType.Single, annotations ?? Empty, row =>
            (ValueGetter<float>)((ref float value) => value = select(row())));

    /// <summary>A <see cref="bool"/> derived from the row output.</summary>
    public static OutputColumn Boolean(string name, Func<float[], bool> select, DataViewSchema.Annotations? annotations = null) =>
        new(name, BooleanDataViewType.Instance, annotations ?? Empty, row =>
            (ValueGetter<bool>)((ref bool value) => value = select(row())));

    /// <summary>A key (1-based; 0 = missing) derived from the row output.</summary>
    public static OutputColumn Key(string name, KeyDataViewType type, Func<float[], uint> select, DataViewSchema.Annotations? annotations = null) =>
        new(name, type, annotations ?? Empty, row =>
            (ValueGetter<uint>)((ref uint value) => value = select(row())));

    /// <summary>
    /// A text column. Mapped rows are float arrays, so a text value travels as its UTF-16 code units, each exact in
    /// a float (<see cref="EncodeText"/> writes them).
    /// </summary>
    public static OutputColumn Text(string name, DataViewSchema.Annotations? annotations = null) =>
        new(name, TextDataViewType.Instance, annotations ?? Empty, row =>
            (ValueGetter<ReadOnlyMemory<char>>)((ref ReadOnlyMemory<char> value) => value = DecodeText(row()).AsMemory()));

    /// <summary>The float row of a text value, for <see cref="Text"/>.</summary>
    public static float[] EncodeText(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var codes = new float[text.Length];
        for (int i = 0; i < text.Length; i++)
            codes[i] = text[i];
        return codes;
    }

    private static string DecodeText(float[] codes) => string.Create(codes.Length, codes, static (chars, source) =>
    {
        for (int i = 0; i < source.Length; i++)
            chars[i] = (char)source[i];
    });

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
    public ValueGetter<TValue> MakeGetter<TValue>(Func<float[]> row)
    {
        var getter = makeGetter(row);
        return getter as ValueGetter<TValue>
            ?? throw new InvalidOperationException(
                $"Column '{Name}' is of type {Type}; it cannot be read as {typeof(TValue).Name}.");
    }

    private static DataViewSchema.Annotations Empty { get; } = new DataViewSchema.Annotations.Builder().ToAnnotations();
}
