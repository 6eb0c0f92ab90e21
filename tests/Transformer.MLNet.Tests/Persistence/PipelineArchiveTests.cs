using System.IO.Compression;
using System.Text.Json;
using Microsoft.ML;
using Microsoft.ML.Data;
using Transformer.MLNet.Classification;
using Transformer.MLNet.Persistence;
using Transformer.MLNet.Tests.Classification;

namespace Transformer.MLNet.Tests.Persistence;

[TestClass]
public sealed class PipelineArchiveTests
{
    private static MLContext mlContext = null!;
    private static IDataView data = null!;
    private static ITransformer model = null!;
    private static byte[] archive = null!;

    [ClassInitialize]
    public static void Initialize(TestContext context)
    {
        mlContext = new MLContext(seed: 3);
        data = mlContext.Data.LoadFromEnumerable(UciSentences.Read("yelp").Take(64).ToList());
        model = mlContext.Transforms.Text.NormalizeText("Clean", nameof(SentenceRow.Text))
            .Append(mlContext.BinaryClassification.Trainers.TextClassifier(TinyScratch.Options()))
            .Append(mlContext.Transforms.CopyColumns("Decision", "PredictedLabel"))
            .Fit(data);
        using var stream = new MemoryStream();
        mlContext.Model.SavePipeline(model, data.Schema, stream);
        archive = stream.ToArray();
    }

    [TestMethod]
    public void Manifest_lists_the_segments_in_order_with_a_checksum_per_entry()
    {
        using var zip = new ZipArchive(new MemoryStream(archive), ZipArchiveMode.Read);
        using var manifestStream = zip.GetEntry("manifest.json")!.Open();
        using var manifest = JsonDocument.Parse(manifestStream);
        Assert.AreEqual("Transformer.MLNet.Pipeline", manifest.RootElement.GetProperty("format").GetString());
        Assert.AreEqual(2, manifest.RootElement.GetProperty("formatVersion").GetInt32());
        var segments = manifest.RootElement.GetProperty("segments").EnumerateArray().ToList();
        CollectionAssert.AreEqual(
            new[] { "mlnet", "Transformer.MLNet.BinaryTextClassification", "mlnet" },
            segments.Select(s => s.GetProperty("kind").GetString()).ToArray());
        var files = segments[1].GetProperty("files").EnumerateObject().Select(p => p.Name).ToList();
        CollectionAssert.IsSubsetOf(
            new[] { "transformer.json", "classifier/config.json", "classifier/model.safetensors", "classifier/vocab.txt", "classifier/classifier.json" },
            files);
        Assert.IsTrue(segments[1].GetProperty("files").EnumerateObject().All(p => p.Value.GetString()!.Length == 64));
    }

    [TestMethod]
    public void Loaded_in_a_fresh_context_the_pipeline_predicts_identically()
    {
        var loaded = new MLContext(seed: 77).Model.LoadPipeline(new MemoryStream(archive), out var inputSchema);
        Assert.AreEqual(data.Schema.Count, inputSchema.Count);
        Assert.HasCount(3, loaded.ToList());
        CollectionAssert.AreEqual(
            model.Transform(data).GetColumn<float>("Score").ToArray(),
            loaded.Transform(data).GetColumn<float>("Score").ToArray());
        CollectionAssert.AreEqual(
            model.Transform(data).GetColumn<bool>("Decision").ToArray(),
            loaded.Transform(data).GetColumn<bool>("Decision").ToArray());
    }

    [TestMethod]
    public void The_classifier_serves_several_threads_and_PredictionEngine_with_the_same_scores()
    {
        var expected = model.Transform(data).GetColumn<float>("Score").ToArray();
        var results = new float[4][];
        Parallel.For(0, 4, new ParallelOptions { MaxDegreeOfParallelism = 4 }, k =>
            results[k] = model.Transform(data).GetColumn<float>("Score").ToArray());
        foreach (var result in results)
            CollectionAssert.AreEqual(expected, result);

        var engine = mlContext.Model.CreatePredictionEngine<SentenceRow, ScoreRow>(model);
        var rows = mlContext.Data.CreateEnumerable<SentenceRow>(data, reuseRowObject: false).Take(8).ToList();
        for (int i = 0; i < rows.Count; i++)
            Assert.AreEqual(expected[i], engine.Predict(rows[i]).Score, 1e-5);
    }

    [TestMethod]
    public void A_corrupted_weight_file_is_refused_by_its_checksum()
    {
        byte[] corrupted = ArchiveEditor.Edit(archive, "segments/1/classifier/model.safetensors", bytes =>
        {
            bytes[^10] ^= 0x5A;
            return bytes;
        });
        var error = Assert.ThrowsExactly<InvalidDataException>(() => mlContext.Model.LoadPipeline(new MemoryStream(corrupted), out _));
        StringAssert.Contains(error.Message, "SHA-256");
        StringAssert.Contains(error.Message, "model.safetensors");
    }

    [TestMethod]
    public void Newer_formats_and_plain_MLNet_models_are_refused_with_what_to_do()
    {
        byte[] newer = ArchiveEditor.EditManifest(archive, manifest => manifest["formatVersion"] = 9);
        var version = Assert.ThrowsExactly<InvalidDataException>(() => mlContext.Model.LoadPipeline(new MemoryStream(newer), out _));
        StringAssert.Contains(version.Message, "Update the library");

        using var plain = new MemoryStream();
        mlContext.Model.Save(mlContext.Transforms.Text.NormalizeText("Clean", nameof(SentenceRow.Text)).Fit(data), data.Schema, plain);
        plain.Position = 0;
        var notOurs = Assert.ThrowsExactly<InvalidDataException>(() => mlContext.Model.LoadPipeline(plain, out _));
        StringAssert.Contains(notOurs.Message, "mlContext.Model.Load");
    }

    [TestMethod]
    public void Same_MLContext_seed_gives_the_same_model_and_another_seed_another()
    {
        float[] Train(int seed)
        {
            var context = new MLContext(seed);
            var fitted = context.BinaryClassification.Trainers.TextClassifier(TinyScratch.Options()).Fit(data);
            return fitted.Transform(data).GetColumn<float>("Score").ToArray();
        }

        float[] first = Train(5);
        CollectionAssert.AreEqual(first, Train(5));
        CollectionAssert.AreNotEqual(first, Train(6));
    }

    [TestMethod]
    public void Search_space_attributes_sit_on_the_tunable_options()
    {
        static bool Has<TAttribute>(Type type, string property) where TAttribute : Attribute =>
            type.GetProperty(property)!.GetCustomAttributes(typeof(TAttribute), false).Length == 1;

        var classifier = typeof(TextClassifierOptions);
        Assert.IsTrue(Has<Microsoft.ML.SearchSpace.RangeAttribute>(classifier, nameof(TextClassifierOptions.LearningRate)));
        Assert.IsTrue(Has<Microsoft.ML.SearchSpace.RangeAttribute>(classifier, nameof(TextClassifierOptions.Epochs)));
        Assert.IsTrue(Has<Microsoft.ML.SearchSpace.ChoiceAttribute>(classifier, nameof(TextClassifierOptions.BatchSize)));
        Assert.IsTrue(Has<Microsoft.ML.SearchSpace.ChoiceAttribute>(classifier, nameof(TextClassifierOptions.MaxTokens)));
        var embedding = typeof(Transformer.MLNet.Embeddings.SentenceEmbeddingOptions);
        Assert.IsTrue(Has<Microsoft.ML.SearchSpace.ChoiceAttribute>(embedding, "Pooling"));
        Assert.IsNotNull(Activator.CreateInstance(classifier), "AutoML needs a parameterless constructor");
    }

    public sealed class ScoreRow
    {
        public float Score { get; set; }
    }
}
