using System.Globalization;
using System.Numerics;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace Transformer.MLNet.Schema;

/// <summary>
/// The key values of a classifier's classes, in key order (key 1 is the first), in the item type the label's
/// <c>KeyValues</c> annotation had, so that <c>MapKeyToValue</c> on the predicted label gives back values of the
/// label's own type, as after ML.NET's own multiclass trainers. Text, Boolean and the integer and floating-point
/// types are kept; a label whose key values are of another type (a date, say), or that has none, gets text
/// key values: the class names, "1", "2", ... in the latter two cases.
/// </summary>
internal abstract class ClassKeyValues
{
    private static readonly Codec[] Codecs =
    [
        new Codec<ReadOnlyMemory<char>>("String", TextDataViewType.Instance, v => v.ToString(),
            (string s, out ReadOnlyMemory<char> v) => { v = s.AsMemory(); return true; },
            (a, b) => a.Span.SequenceEqual(b.Span), v => v.ToString().AsMemory()),
        new Codec<float>("Single", NumberDataViewType.Single, v => v.ToString("R", CultureInfo.InvariantCulture),
            (string s, out float v) => float.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out v)),
        new Codec<double>("Double", NumberDataViewType.Double, v => v.ToString("R", CultureInfo.InvariantCulture),
            (string s, out double v) => double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out v)),
        Integer<sbyte>("SByte", NumberDataViewType.SByte),
        Integer<byte>("Byte", NumberDataViewType.Byte),
        Integer<short>("Int16", NumberDataViewType.Int16),
        Integer<ushort>("UInt16", NumberDataViewType.UInt16),
        Integer<int>("Int32", NumberDataViewType.Int32),
        Integer<uint>("UInt32", NumberDataViewType.UInt32),
        Integer<long>("Int64", NumberDataViewType.Int64),
        Integer<ulong>("UInt64", NumberDataViewType.UInt64),
        new Codec<bool>("Boolean", BooleanDataViewType.Instance, v => v ? bool.TrueString : bool.FalseString, bool.TryParse),
    ];

    private ClassKeyValues(string[] names) => Names = names;

    /// <summary>The text of each class, in key order: the class names shown to users, slot names of the score.</summary>
    public IReadOnlyList<string> Names { get; }

    /// <summary>The item type of the key values.</summary>
    public abstract PrimitiveDataViewType ItemType { get; }

    /// <summary>Whether the key values are text.</summary>
    public bool IsText => ItemType is TextDataViewType;

    /// <summary>The name of the item type as <see cref="TryParse"/> takes it: "String", "Single", "Int32", ...</summary>
    public abstract string TypeName { get; }

    /// <summary>The names of the item types kept.</summary>
    public static IReadOnlyList<string> TypeNames { get; } = [.. Codecs.Select(c => c.Name)];

    /// <summary>Text key values: the names themselves.</summary>
    public static ClassKeyValues Text(IReadOnlyList<string> names) =>
        new Values<ReadOnlyMemory<char>>((Codec<ReadOnlyMemory<char>>)Codecs[0], [.. names.Select(n => n.AsMemory())], [.. names]);

    /// <summary>
    /// The key values of a key column with <paramref name="count"/> keys: its <c>KeyValues</c> annotation in its own
    /// type where that type is kept and it has one value per key, else text ("1", "2", ... for an annotation of
    /// another type or length, or none).
    /// </summary>
    public static ClassKeyValues Read(DataViewSchema.Column label, int count)
    {
        var annotation = label.Annotations.Schema.GetColumnOrNull(AnnotationNames.KeyValues);
        if (annotation is { Type: VectorDataViewType vector } && Find(vector.ItemType) is { } codec && codec.Read(label, count) is { } values)
            return values;
        return Text([.. Enumerable.Range(1, count).Select(i => i.ToString(CultureInfo.InvariantCulture))]);
    }

    /// <summary>
    /// Two classes of key values of <paramref name="itemType"/> (text where it is not kept or null): what an
    /// estimator's output schema shape needs, which carries types, not values.
    /// </summary>
    public static ClassKeyValues Placeholder(DataViewType? itemType) =>
        (itemType is null ? null : Find(itemType))?.Placeholder(2) ?? Text(["0", "1"]);

    /// <summary>
    /// Key values of type <paramref name="typeName"/> from their <see cref="Format"/>ted text, with the class
    /// <paramref name="names"/> (as many); false with the first text that is not a value of the type, or with
    /// <paramref name="invalid"/> null when the type is not one of <see cref="TypeNames"/>.
    /// </summary>
    public static bool TryParse(
        string typeName, IReadOnlyList<string> values, IReadOnlyList<string> names,
        [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out ClassKeyValues? result, out string? invalid)
    {
        if (values.Count != names.Count)
            throw new ArgumentException($"{values.Count} key values for {names.Count} class names.", nameof(values));
        result = null;
        invalid = null;
        var codec = Codecs.FirstOrDefault(c => string.Equals(c.Name, typeName, StringComparison.Ordinal));
        return codec is not null && codec.TryParse(values, names, out result, out invalid);
    }

    /// <summary>Each value as text that <see cref="TryParse"/> reads back exactly (floating-point values bit for bit, -0 included).</summary>
    public abstract IReadOnlyList<string> Format();

    /// <summary>Adds the values as a vector annotation <paramref name="name"/> of their own item type.</summary>
    public abstract void AddTo(DataViewSchema.Annotations.Builder builder, string name);

    /// <summary>Whether <paramref name="other"/> has the same item type and the same values in the same order.</summary>
    public abstract bool SameAs(ClassKeyValues other);

    /// <summary>The names with the item type, for messages: "1, 2, 3 (Single)".</summary>
    public override string ToString() => $"{string.Join(", ", Names)} ({TypeName})";

    private static Codec? Find(DataViewType itemType) => Codecs.FirstOrDefault(c => c.Type.Equals(itemType));

    private static Codec<T> Integer<T>(string name, PrimitiveDataViewType type)
        where T : struct, IBinaryInteger<T> =>
        new(name, type, v => v.ToString(null, CultureInfo.InvariantCulture),
            (string s, out T v) => T.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out v));

    private delegate bool Parser<T>(string text, out T value)
        where T : struct;

    /// <summary>How one item type is read from an annotation, written as text and read back.</summary>
    private abstract class Codec(string name, PrimitiveDataViewType type)
    {
        public string Name { get; } = name;

        public PrimitiveDataViewType Type { get; } = type;

        public abstract ClassKeyValues? Read(DataViewSchema.Column label, int count);

        public abstract ClassKeyValues Placeholder(int count);

        public abstract bool TryParse(IReadOnlyList<string> values, IReadOnlyList<string> names, out ClassKeyValues? result, out string? invalid);
    }

    private sealed class Codec<T>(
        string name, PrimitiveDataViewType type, Func<T, string> format, Parser<T> parse, Func<T, T, bool>? equal = null, Func<T, T>? own = null)
        : Codec(name, type)
        where T : struct
    {
        public string Format(T value) => format(value);

        public bool Equal(T a, T b) => equal?.Invoke(a, b) ?? EqualityComparer<T>.Default.Equals(a, b);

        public override ClassKeyValues? Read(DataViewSchema.Column label, int count)
        {
            VBuffer<T> buffer = default;
            label.Annotations.GetValue(AnnotationNames.KeyValues, ref buffer);
            // Text read from an annotation may share its memory: the copies are the classifier's own.
            T[] values = [.. buffer.DenseValues().Select(v => own is null ? v : own(v))];
            return values.Length == count ? new Values<T>(this, values, [.. values.Select(format)]) : null;
        }

        public override ClassKeyValues Placeholder(int count) =>
            new Values<T>(this, new T[count], [.. Enumerable.Range(0, count).Select(i => i.ToString(CultureInfo.InvariantCulture))]);

        public override bool TryParse(IReadOnlyList<string> values, IReadOnlyList<string> names, out ClassKeyValues? result, out string? invalid)
        {
            var parsed = new T[values.Count];
            for (int i = 0; i < parsed.Length; i++)
            {
                if (values[i] is null || !parse(values[i], out parsed[i]))
                {
                    result = null;
                    invalid = values[i] ?? "null";
                    return false;
                }
            }

            result = new Values<T>(this, parsed, [.. names]);
            invalid = null;
            return true;
        }
    }

    private sealed class Values<T> : ClassKeyValues
        where T : struct
    {
        private readonly Codec<T> codec;
        private readonly T[] values;

        public Values(Codec<T> codec, T[] values, string[] names)
            : base(names)
        {
            this.codec = codec;
            this.values = values;
        }

        public override PrimitiveDataViewType ItemType => codec.Type;

        public override string TypeName => codec.Name;

        public override IReadOnlyList<string> Format() => [.. values.Select(codec.Format)];

        public override void AddTo(DataViewSchema.Annotations.Builder builder, string name) =>
            builder.Add(name, new VectorDataViewType(codec.Type, values.Length),
                (ref VBuffer<T> value) => value = new VBuffer<T>(values.Length, (T[])values.Clone()));

        public override bool SameAs(ClassKeyValues other) =>
            other is Values<T> same && same.codec == codec && values.Length == same.values.Length
            && values.Zip(same.values).All(pair => codec.Equal(pair.First, pair.Second));
    }
}
