using Microsoft.ML;
using Microsoft.ML.Data;
using Transformer.MLNet.Schema;

namespace Transformer.MLNet.Tests.Classification;

/// <summary>Key values of each kept type are read from a label, written as text and read back exactly.</summary>
[TestClass]
public sealed class ClassKeyValuesTests
{
    // A key column of `values.Length` keys whose KeyValues annotation holds `values` as a vector of `itemType`.
    private static DataViewSchema.Column Label<T>(PrimitiveDataViewType itemType, T[] values)
    {
        var annotations = new DataViewSchema.Annotations.Builder();
        annotations.Add(AnnotationNames.KeyValues, new VectorDataViewType(itemType, values.Length),
            (ref VBuffer<T> value) => value = new VBuffer<T>(values.Length, (T[])values.Clone()));
        var builder = new DataViewSchema.Builder();
        builder.AddColumn("Label", new KeyDataViewType(typeof(uint), values.Length), annotations.ToAnnotations());
        return builder.ToSchema()["Label"];
    }

    private static T[] Annotated<T>(ClassKeyValues classes, PrimitiveDataViewType itemType)
    {
        var builder = new DataViewSchema.Annotations.Builder();
        classes.AddTo(builder, AnnotationNames.KeyValues);
        var annotations = builder.ToAnnotations();
        Assert.AreEqual(new VectorDataViewType(itemType, classes.Names.Count), annotations.Schema[AnnotationNames.KeyValues].Type);
        VBuffer<T> values = default;
        annotations.GetValue(AnnotationNames.KeyValues, ref values);
        return values.DenseValues().ToArray();
    }

    // Reads the values from a label, writes them as text, reads that back, and checks both against the originals.
    private static void RoundTrips<T>(PrimitiveDataViewType itemType, string typeName, T[] values, Func<T, T, bool> same)
    {
        var read = ClassKeyValues.Read(Label(itemType, values), values.Length);
        Assert.AreEqual(typeName, read.TypeName);
        Assert.AreEqual(itemType, read.ItemType);
        var text = read.Format();
        Assert.IsTrue(ClassKeyValues.TryParse(typeName, text, read.Names, out var parsed, out string? invalid), invalid);
        foreach (var classes in new[] { read, parsed })
        {
            var annotated = Annotated<T>(classes, itemType);
            Assert.HasCount(values.Length, annotated);
            for (int i = 0; i < values.Length; i++)
                Assert.IsTrue(same(values[i], annotated[i]), $"{typeName} {values[i]} came back as {annotated[i]} (written {text[i]})");
        }

        Assert.IsTrue(parsed.SameAs(read));
        CollectionAssert.AreEqual(read.Names.ToArray(), parsed.Names.ToArray());
    }

    [TestMethod]
    public void Every_kept_type_is_written_as_text_that_reads_back_exactly()
    {
        RoundTrips(NumberDataViewType.Single, "Single", [0.1f, -0f, 0f, float.MaxValue, float.Epsilon, -1e-30f, 1f / 3, float.PositiveInfinity],
            (a, b) => BitConverter.SingleToInt32Bits(a) == BitConverter.SingleToInt32Bits(b));
        RoundTrips(NumberDataViewType.Double, "Double", [0.1, -0.0, double.MaxValue, double.Epsilon, 1.0 / 3, 1e300, double.NegativeInfinity],
            (a, b) => BitConverter.DoubleToInt64Bits(a) == BitConverter.DoubleToInt64Bits(b));
        RoundTrips(NumberDataViewType.Int32, "Int32", [int.MinValue, -1, 0, int.MaxValue], (a, b) => a == b);
        RoundTrips(NumberDataViewType.UInt32, "UInt32", [0u, 7u, uint.MaxValue], (a, b) => a == b);
        RoundTrips(NumberDataViewType.Int64, "Int64", [long.MinValue, 0L, long.MaxValue], (a, b) => a == b);
        RoundTrips(NumberDataViewType.UInt64, "UInt64", [0UL, ulong.MaxValue], (a, b) => a == b);
        RoundTrips(NumberDataViewType.Int16, "Int16", [short.MinValue, (short)0, short.MaxValue], (a, b) => a == b);
        RoundTrips(NumberDataViewType.UInt16, "UInt16", [(ushort)0, ushort.MaxValue], (a, b) => a == b);
        RoundTrips(NumberDataViewType.Byte, "Byte", [(byte)0, byte.MaxValue], (a, b) => a == b);
        RoundTrips(NumberDataViewType.SByte, "SByte", [sbyte.MinValue, (sbyte)0, sbyte.MaxValue], (a, b) => a == b);
        RoundTrips(BooleanDataViewType.Instance, "Boolean", [false, true], (a, b) => a == b);
        RoundTrips(TextDataViewType.Instance, "String", ["négatif".AsMemory(), "".AsMemory(), "a, b".AsMemory()], (a, b) => a.Span.SequenceEqual(b.Span));
    }

    [TestMethod]
    public void Names_are_the_invariant_text_of_each_value()
    {
        var floats = ClassKeyValues.Read(Label(NumberDataViewType.Single, [0.1f, -0f, 1e30f]), 3);
        CollectionAssert.AreEqual(new[] { "0.1", "-0", "1E+30" }, floats.Names.ToArray());
        var flags = ClassKeyValues.Read(Label(BooleanDataViewType.Instance, [false, true]), 2);
        CollectionAssert.AreEqual(new[] { "False", "True" }, flags.Names.ToArray());
    }

    [TestMethod]
    public void Another_type_or_length_or_no_key_values_give_numbered_text()
    {
        var dates = ClassKeyValues.Read(Label(DateTimeDataViewType.Instance, [DateTime.UnixEpoch, DateTime.MaxValue]), 2);
        Assert.IsTrue(dates.IsText);
        CollectionAssert.AreEqual(new[] { "1", "2" }, dates.Names.ToArray());
        var short_ = ClassKeyValues.Read(Label(NumberDataViewType.Single, [1f, 2f]), 3);
        CollectionAssert.AreEqual(new[] { "1", "2", "3" }, short_.Names.ToArray());
        var builder = new DataViewSchema.Builder();
        builder.AddColumn("Label", new KeyDataViewType(typeof(uint), 2));
        CollectionAssert.AreEqual(new[] { "1", "2" }, ClassKeyValues.Read(builder.ToSchema()["Label"], 2).Names.ToArray());
        Assert.IsTrue(ClassKeyValues.Placeholder(DateTimeDataViewType.Instance).IsText);
        Assert.AreEqual(NumberDataViewType.Double, ClassKeyValues.Placeholder(NumberDataViewType.Double).ItemType);
    }

    [TestMethod]
    public void Same_values_of_another_type_or_order_are_not_the_same_classes()
    {
        var floats = ClassKeyValues.Read(Label(NumberDataViewType.Single, [1f, 2f]), 2);
        var ints = ClassKeyValues.Read(Label(NumberDataViewType.Int32, [1, 2]), 2);
        var swapped = ClassKeyValues.Read(Label(NumberDataViewType.Single, [2f, 1f]), 2);
        Assert.IsTrue(floats.SameAs(ClassKeyValues.Read(Label(NumberDataViewType.Single, [1f, 2f]), 2)));
        Assert.IsFalse(floats.SameAs(ints), "same names, another type");
        Assert.IsFalse(floats.SameAs(swapped));
        Assert.IsTrue(ClassKeyValues.Text(["a", "b"]).SameAs(ClassKeyValues.Text(["a", "b"])));
        Assert.IsFalse(ClassKeyValues.TryParse("Single", ["1", "x"], ["1", "x"], out _, out string? invalid));
        Assert.AreEqual("x", invalid);
        Assert.IsFalse(ClassKeyValues.TryParse("Decimal", ["1"], ["1"], out _, out invalid));
        Assert.IsNull(invalid);
    }
}
