using System.Text.Json.Nodes;
using Microsoft.ML;
using Microsoft.ML.Data;
using Transformer.MLNet.Classification;
using Transformer.MLNet.Onnx;
using Transformer.MLNet.Persistence;
using Transformer.MLNet.Schema;
using Transformer.MLNet.Tests.Persistence;

namespace Transformer.MLNet.Tests.Classification;

/// <summary>
/// The multiclass classifier's predicted label keeps the type of the label's key values, as after ML.NET's own
/// multiclass trainers: <c>MapKeyToValue</c> gives back floats, ints, Booleans, ... and a saved pipeline keeps them.
/// </summary>
[TestClass]
public sealed class TypedKeyValuesTests
{
    // One class per source × sentiment; values that text does not round-trip by accident (0.1f, -0, the extremes).
    private static readonly Dictionary<string, float> FloatOf = new()
    {
        ["imdb-negative"] = 0.1f, ["imdb-positive"] = -0f, ["yelp-negative"] = float.MaxValue, ["yelp-positive"] = 2f,
    };

    private static readonly Dictionary<string, int> IntOf = new()
    {
        ["imdb-negative"] = -7, ["imdb-positive"] = 0, ["yelp-negative"] = 3, ["yelp-positive"] = int.MaxValue,
    };

    private static MLContext mlContext = null!;
    private static List<SentenceRow> rows = null!;
    private static Lazy<(IDataView Keyed, MulticlassTextClassificationTransformer Model, byte[] Archive)> floatModel = null!;

    public sealed class Labelled<T>
    {
        public string Text { get; set; } = "";

        public T Label { get; set; } = default!;
    }

    public sealed class Prediction<T>
    {
        public T PredictedLabel { get; set; } = default!;

        public float[] Score { get; set; } = [];
    }

    [ClassInitialize]
    public static void Initialize(TestContext context)
    {
        mlContext = new MLContext(seed: 1);
        rows = [.. UciSentences.Read("yelp").Take(40), .. UciSentences.Read("imdb").Take(40)];
        floatModel = new(() =>
        {
            var keyed = mlContext.Transforms.Conversion.MapValueToKey("Label").Fit(Load(r => FloatOf[r.Category])).Transform(Load(r => FloatOf[r.Category]));
            var model = mlContext.MulticlassClassification.Trainers.TextClassifier(TinyScratch.Options(seed: 1)).Fit(keyed);
            using var stream = new MemoryStream();
            mlContext.Model.SavePipeline(model, keyed.Schema, stream);
            return (keyed, model, stream.ToArray());
        });
    }

    private static IDataView Load<T>(Func<SentenceRow, T> label) =>
        mlContext.Data.LoadFromEnumerable(rows.Select(r => new Labelled<T> { Text = r.Text, Label = label(r) }).ToList());

    [TestMethod]
    [DataRow("Single")]
    [DataRow("Int32")]
    [DataRow("Boolean")]
    [DataRow("String")]
    public void MapKeyToValue_after_the_classifier_gives_back_the_labels_own_type(string type)
    {
        switch (type)
        {
            case "Single":
                ComesBackAs<float, float>(r => FloatOf[r.Category], NumberDataViewType.Single);
                break;
            case "Int32":
                ComesBackAs<int, int>(r => IntOf[r.Category], NumberDataViewType.Int32);
                break;
            case "Boolean":
                ComesBackAs<bool, bool>(r => r.Label, BooleanDataViewType.Instance);
                break;
            default:
                ComesBackAs<string, ReadOnlyMemory<char>>(r => r.Category, TextDataViewType.Instance);
                break;
        }
    }

    // TLabel: the label's type in the row classes; TKey: its type inside a data view (text is ReadOnlyMemory<char> there).
    private static void ComesBackAs<TLabel, TKey>(Func<SentenceRow, TLabel> label, PrimitiveDataViewType type)
    {
        var data = Load(label);
        var pipeline = mlContext.Transforms.Conversion.MapValueToKey("Label")
            .Append(mlContext.MulticlassClassification.Trainers.TextClassifier(TinyScratch.Options(seed: 1)))
            .Append(mlContext.Transforms.Conversion.MapKeyToValue("PredictedLabel"));
        var shape = pipeline.GetOutputSchema(TestSchemas.Shape(data.Schema));
        Assert.AreEqual(type, TestSchemas.Find(shape, "PredictedLabel").ItemType, "the estimators' output schema has the label's type");

        var model = pipeline.Fit(data);
        var keyed = model.First().Transform(data);
        using var classifier = (MulticlassTextClassificationTransformer)model.Skip(1).First();
        var classes = Show(KeyValues<TKey>(keyed.Schema["Label"]));
        var scored = classifier.Transform(keyed);
        Assert.AreEqual(new VectorDataViewType(type, classes.Length), scored.Schema["PredictedLabel"].Annotations.Schema[AnnotationNames.KeyValues].Type);
        CollectionAssert.AreEqual(classes, Show(KeyValues<TKey>(scored.Schema["PredictedLabel"])), "the label's key values, in key order");
        CollectionAssert.AreEqual(classes, classifier.ClassNames.ToArray(), "ClassNames stay the text of each class");
        VBuffer<ReadOnlyMemory<char>> slots = default;
        scored.Schema["Score"].GetSlotNames(ref slots);
        CollectionAssert.AreEqual(classes, Show(slots.DenseValues()), "slot names stay text");
        Assert.AreEqual(classes.Length, mlContext.MulticlassClassification.Evaluate(scored).ConfusionMatrix.NumberOfClasses, "the stock evaluator reads it");

        var output = model.Transform(data);
        Assert.AreEqual(type, output.Schema["PredictedLabel"].Type);
        var keys = scored.GetColumn<uint>("PredictedLabel").ToArray();
        Assert.IsTrue(keys.All(k => k >= 1), "every row has a predicted class");
        CollectionAssert.AreEqual(keys.Select(k => classes[k - 1]).ToArray(), Show(output.GetColumn<TLabel>("PredictedLabel")), "each value is its key's class");

        var engine = mlContext.Model.CreatePredictionEngine<Labelled<TLabel>, Prediction<TLabel>>(model);
        foreach (var row in rows.Take(6))
        {
            var prediction = engine.Predict(new Labelled<TLabel> { Text = row.Text, Label = label(row) });
            int best = Array.IndexOf(prediction.Score, prediction.Score.Max());
            Assert.AreEqual(classes[best], Show([prediction.PredictedLabel])[0], "the class of the highest score, in the label's type");
        }
    }

    // Round-trip text of each value (floats keep -0 and every bit), so that values of any type compare as text.
    private static string[] Show<T>(IEnumerable<T> values) =>
        [.. values.Select(v => Convert.ToString(v, System.Globalization.CultureInfo.InvariantCulture) ?? "")];

    private static T[] KeyValues<T>(DataViewSchema.Column column)
    {
        VBuffer<T> values = default;
        column.GetKeyValues(ref values);
        return values.DenseValues().ToArray();
    }

    private static int[] Bits(float[] values) => [.. values.Select(BitConverter.SingleToInt32Bits)];

    private static string StateEntry(byte[] archive) => ArchiveEditor.Entries(archive).Single(e => e.EndsWith("/transformer.json", StringComparison.Ordinal));

    [TestMethod]
    public void Saved_and_loaded_the_classifier_keeps_its_float_key_values_bit_for_bit()
    {
        var (keyed, model, archive) = floatModel.Value;
        var expected = KeyValues<float>(model.Transform(keyed).Schema["PredictedLabel"]);
        CollectionAssert.AreEquivalent(Bits([.. FloatOf.Values]), Bits(expected), "0.1f, -0, MaxValue and 2 are the classes");

        var loaded = mlContext.Model.LoadPipeline(new MemoryStream(archive), out _);
        var reloaded = loaded.Transform(keyed);
        CollectionAssert.AreEqual(Bits(expected), Bits(KeyValues<float>(reloaded.Schema["PredictedLabel"])));
        CollectionAssert.AreEqual(model.Transform(keyed).GetColumn<uint>("PredictedLabel").ToArray(), reloaded.GetColumn<uint>("PredictedLabel").ToArray());
        var mapped = mlContext.Transforms.Conversion.MapKeyToValue("PredictedLabel").Fit(reloaded).Transform(reloaded);
        Assert.AreEqual(NumberDataViewType.Single, mapped.Schema["PredictedLabel"].Type);
    }

    [TestMethod]
    public void An_archive_without_typed_key_values_loads_with_text_key_values_as_before()
    {
        var (keyed, model, archive) = floatModel.Value;
        string entry = StateEntry(archive);
        var old = ArchiveEditor.EditJsonAndChecksum(archive, entry, json =>
        {
            Assert.AreEqual("Single", json["keyValueType"]!.GetValue<string>());
            json.Remove("keyValueType");
            json.Remove("keyValues");
        });
        var loaded = mlContext.Model.LoadPipeline(new MemoryStream(old), out _);
        var scored = loaded.Transform(keyed);
        CollectionAssert.AreEqual(model.ClassNames.ToArray(), KeyValues<ReadOnlyMemory<char>>(scored.Schema["PredictedLabel"]).Select(v => v.ToString()).ToArray());
        var mapped = mlContext.Transforms.Conversion.MapKeyToValue("PredictedLabel").Fit(scored).Transform(scored);
        Assert.AreEqual(TextDataViewType.Instance, mapped.Schema["PredictedLabel"].Type);
        CollectionAssert.AreEqual(model.Transform(keyed).GetColumn<float[]>("Score").SelectMany(s => s).ToArray(), scored.GetColumn<float[]>("Score").SelectMany(s => s).ToArray());
    }

    [TestMethod]
    public void A_text_label_is_saved_as_before_without_a_key_value_type()
    {
        var data = Load(r => r.Category);
        var keyed = mlContext.Transforms.Conversion.MapValueToKey("Label").Fit(data).Transform(data);
        using var model = mlContext.MulticlassClassification.Trainers.TextClassifier(TinyScratch.Options(seed: 1)).Fit(keyed);
        Assert.IsTrue(model.KeyValues.IsText);
        using var stream = new MemoryStream();
        mlContext.Model.SavePipeline(model, keyed.Schema, stream);
        var archive = stream.ToArray();
        ArchiveEditor.EditJsonAndChecksum(archive, StateEntry(archive), json =>
        {
            Assert.IsFalse(json.ContainsKey("keyValueType"), json.ToJsonString());
            Assert.IsFalse(json.ContainsKey("keyValues"), json.ToJsonString());
        });
    }

    [TestMethod]
    public void A_validation_set_must_number_typed_classes_as_the_training_data_does()
    {
        var data = Load(r => FloatOf[r.Category]);
        var trainMap = mlContext.Transforms.Conversion.MapValueToKey("Label").Fit(data);
        // The same classes met in another order: a mapping fitted on them numbers them differently.
        var reordered = mlContext.Data.LoadFromEnumerable(rows.AsEnumerable().Reverse().Select(r => new Labelled<float> { Text = r.Text, Label = FloatOf[r.Category] }).ToList());
        var options = TinyScratch.Options(seed: 1);
        options.ValidationSet = mlContext.Transforms.Conversion.MapValueToKey("Label").Fit(reordered).Transform(reordered);
        var error = Assert.ThrowsExactly<ArgumentException>(() => mlContext.MulticlassClassification.Trainers.TextClassifier(options).Fit(trainMap.Transform(data)));
        StringAssert.Contains(error.Message, "numbers its classes");
        StringAssert.Contains(error.Message, "(Single)");

        var ints = Load(r => IntOf[r.Category]);
        options.ValidationSet = mlContext.Transforms.Conversion.MapValueToKey("Label").Fit(ints).Transform(ints);
        var other = Assert.ThrowsExactly<ArgumentException>(() => mlContext.MulticlassClassification.Trainers.TextClassifier(options).Fit(trainMap.Transform(data)));
        StringAssert.Contains(other.Message, "(Int32)");

        options.ValidationSet = trainMap.Transform(mlContext.Data.TakeRows(reordered, 20));
        using var model = mlContext.MulticlassClassification.Trainers.TextClassifier(options).Fit(trainMap.Transform(data));
        Assert.AreEqual(NumberDataViewType.Single, model.KeyValues.ItemType);
    }

    [TestMethod]
    public void An_onnx_export_of_a_float_labelled_classifier_keeps_its_float_key_values()
    {
        var (keyed, model, _) = floatModel.Value;
        string folder = Path.Combine(Path.GetTempPath(), "typed-keys-onnx-" + Guid.NewGuid().ToString("N")[..8]);
        try
        {
            var manifest = model.ExportOnnx(folder);
            CollectionAssert.AreEqual(model.ClassNames.ToArray(), manifest.Labels!.ToArray());
            Assert.AreEqual("Single", manifest.LabelType);
            var expected = model.Transform(keyed);
            using (var onnx = mlContext.Transforms.Text.ApplyOnnxExport(folder, nameof(SentenceRow.Text)).Fit(keyed))
            {
                var scored = onnx.Transform(keyed);
                CollectionAssert.AreEqual(Bits(KeyValues<float>(expected.Schema["PredictedLabel"])), Bits(KeyValues<float>(scored.Schema["PredictedLabel"])));
                CollectionAssert.AreEqual(expected.GetColumn<uint>("PredictedLabel").ToArray(), scored.GetColumn<uint>("PredictedLabel").ToArray());
                var values = mlContext.Transforms.Conversion.MapKeyToValue("PredictedLabel").Fit(scored).Transform(scored);
                CollectionAssert.AreEqual(
                    mlContext.Transforms.Conversion.MapKeyToValue("PredictedLabel").Fit(expected).Transform(expected).GetColumn<float>("PredictedLabel").ToArray(),
                    values.GetColumn<float>("PredictedLabel").ToArray());
            }

            // A manifest whose values are not of their type is refused, naming the file and the value.
            string path = Path.Combine(folder, Network.Export.OnnxExportManifest.FileName);
            var json = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(path))!.AsObject();
            json["label_values"]![0] = "twelve";
            File.WriteAllText(path, json.ToJsonString());
            var error = Assert.Throws<Exception>(() => mlContext.Transforms.Text.ApplyOnnxExport(folder, nameof(SentenceRow.Text)).Fit(keyed).Dispose());
            StringAssert.Contains(error.Message, "onnx_export.json");
            StringAssert.Contains(error.Message, "\"twelve\"");
            json.Remove("label_type");
            File.WriteAllText(path, json.ToJsonString());
            error = Assert.Throws<Exception>(() => mlContext.Transforms.Text.ApplyOnnxExport(folder, nameof(SentenceRow.Text)).Fit(keyed).Dispose());
            StringAssert.Contains(error.Message, "label_type");
        }
        finally
        {
            if (Directory.Exists(folder))
                Directory.Delete(folder, recursive: true);
        }
    }

    [TestMethod]
    public void A_damaged_key_value_type_or_value_is_refused_naming_the_entry_and_the_value()
    {
        var (_, _, archive) = floatModel.Value;
        string entry = StateEntry(archive);
        InvalidDataException LoadFails(Action<JsonObject> change, params string[] fragments)
        {
            var edited = ArchiveEditor.EditJsonAndChecksum(archive, entry, change);
            var error = Assert.ThrowsExactly<InvalidDataException>(() => mlContext.Model.LoadPipeline(new MemoryStream(edited), out _));
            StringAssert.Contains(error.Message, entry);
            foreach (string fragment in fragments)
                StringAssert.Contains(error.Message, fragment);
            return error;
        }

        LoadFails(j => j["keyValueType"] = "Decimal", "keyValueType = Decimal is invalid", "Single", "Int32");
        LoadFails(j => j.Remove("keyValueType"), "keyValueType = null is invalid");
        LoadFails(j => j["keyValues"]![1] = "one", "keyValues", "\"one\"", "must be a Single");
        LoadFails(j => j["keyValues"]!.AsArray().RemoveAt(0), "keyValues = 3 values is invalid", "one Single per class name (4)");
        LoadFails(j => j.Remove("keyValues"), "keyValues = null is invalid");
    }
}
