using Microsoft.ML;
using Microsoft.ML.Data;
using Transformer.MLNet.Embeddings;
using Transformer.MLNet.Network.Embeddings;
using Transformer.MLNet.Network.Pretrained;
using Transformer.MLNet.Persistence;

namespace Transformer.MLNet.Tests.Embeddings;

[TestClass]
public sealed class SentenceEmbeddingTests
{
    private static MLContext mlContext = null!;
    private static List<SentenceRow> yelp = null!;
    private static IDataView sample = null!;
    private static SentenceEmbeddingTransformer transformer = null!;

    [ClassInitialize]
    public static void Initialize(TestContext context)
    {
        mlContext = new MLContext(seed: 1);
        yelp = UciSentences.Read("yelp");
        sample = mlContext.Data.LoadFromEnumerable(yelp.Take(100).ToList());
        transformer = mlContext.Transforms.Text.ApplySentenceEmbedding("Features", nameof(SentenceRow.Text), inferenceBatchSize: 2).Fit(sample);
    }

    [ClassCleanup]
    public static void Cleanup() => transformer?.Dispose();

    [TestMethod]
    public void UseBFloat16_warns_in_the_MLContext_log_on_a_CPU_without_bfloat16_instructions()
    {
        var context = new MLContext(seed: 1);
        var log = new Infrastructure.LogWarnings(context);
        var data = context.Data.LoadFromEnumerable(yelp.Take(2).ToList());
        var options = new SentenceEmbeddingOptions { OutputColumnName = "Features", InputColumnName = nameof(SentenceRow.Text), UseBFloat16 = true };
        using (context.Transforms.Text.ApplySentenceEmbedding(options).Fit(data))
        {
            var warnings = log.Snapshot();
            bool warned = warnings.Any(w => w.Contains("UseBFloat16 asks for bfloat16", StringComparison.Ordinal) && w.Contains("HasNativeBFloat16", StringComparison.Ordinal));
            Assert.AreEqual(!Network.Runtime.CpuFeatures.HasNativeBFloat16, warned, string.Join(" | ", warnings));
        }

        log.Clear();
        options.UseBFloat16 = false;
        using (context.Transforms.Text.ApplySentenceEmbedding(options).Fit(data))
            Assert.IsFalse(log.Snapshot().Any(w => w.Contains("bfloat16", StringComparison.Ordinal)), "float32 never warns");
    }

    [TestMethod]
    public void Estimator_schema_before_fit_and_transformer_schema_after()
    {
        var estimator = mlContext.Transforms.Text.ApplySentenceEmbedding("Features", nameof(SentenceRow.Text));
        var shape = estimator.GetOutputSchema(TestSchemas.Shape(sample.Schema));
        var features = TestSchemas.Find(shape, "Features");
        Assert.AreEqual(SchemaShape.Column.VectorKind.Vector, features.Kind);
        Assert.AreEqual(NumberDataViewType.Single, features.ItemType);
        Assert.IsNotNull(TestSchemas.Find(shape, nameof(SentenceRow.Label)).Name, "input columns pass through");

        var schema = transformer.GetOutputSchema(sample.Schema);
        var type = (VectorDataViewType)schema["Features"].Type;
        Assert.AreEqual(NumberDataViewType.Single, type.ItemType);
        Assert.AreEqual(384, type.Size);
        Assert.AreEqual(384, transformer.Dimension);
        Assert.AreEqual(TextDataViewType.Instance, schema[nameof(SentenceRow.Text)].Type);
    }

    [TestMethod]
    public void Vectors_equal_the_encoder_called_directly_and_come_a_batch_per_forward_pass()
    {
        var texts = yelp.Take(100).Select(r => r.Text).ToList();
        float[][] direct;
        using (var model = PretrainedBert.LoadMiniLm())
        using (var encoder = SentenceEncoder.FromPretrained(model))
            direct = encoder.Encode(texts);

        long before = transformer.BatchesMapped;
        var vectors = transformer.Transform(sample).GetColumn<float[]>("Features").ToList();
        Assert.AreEqual(2, transformer.BatchesMapped - before, "100 rows read ahead 32 batches of 2 at a time: 2 windows, not 100 calls");
        Assert.HasCount(100, vectors);
        double worst = 0;
        for (int i = 0; i < vectors.Count; i++)
        {
            for (int j = 0; j < 384; j++)
                worst = Math.Max(worst, Math.Abs(vectors[i][j] - direct[i][j]));
        }

        Assert.IsLessThan(1e-5, worst);
        Assert.AreEqual(1.0, Math.Sqrt(vectors[0].Sum(v => (double)v * v)), 1e-4, "vectors are L2-normalised by default");
    }

    [TestMethod]
    public void Reading_only_other_columns_runs_no_forward_pass()
    {
        long before = transformer.BatchesMapped;
        var labels = transformer.Transform(sample).GetColumn<bool>(nameof(SentenceRow.Label)).ToList();
        Assert.HasCount(100, labels);
        Assert.AreEqual(before, transformer.BatchesMapped);
    }

    [TestMethod]
    public void PredictionEngine_and_concurrent_transforms_agree_with_the_batched_transform()
    {
        var expected = transformer.Transform(sample).GetColumn<float[]>("Features").ToList();
        var engine = mlContext.Model.CreatePredictionEngine<SentenceRow, EmbeddingRow>(transformer);
        for (int i = 0; i < 5; i++)
        {
            var single = engine.Predict(yelp[i]).Features;
            for (int j = 0; j < 384; j++)
                Assert.AreEqual(expected[i][j], single[j], 1e-5);
        }

        var results = new List<float[]>[4];
        Parallel.For(0, 4, new ParallelOptions { MaxDegreeOfParallelism = 4 }, k =>
            results[k] = transformer.Transform(sample).GetColumn<float[]>("Features").ToList());
        foreach (var result in results)
        {
            Assert.HasCount(expected.Count, result);
            for (int i = 0; i < expected.Count; i++)
                CollectionAssert.AreEqual(expected[i], result[i]);
        }
    }

    [TestMethod]
    public void Embeddings_with_SDCA_classify_yelp_and_the_pipeline_round_trips_through_SavePipeline()
    {
        var data = mlContext.Data.LoadFromEnumerable(yelp);
        var split = mlContext.Data.TrainTestSplit(data, testFraction: 0.2, seed: 0);
        var pipeline = mlContext.Transforms.Text.NormalizeText("Clean", nameof(SentenceRow.Text))
            .Append(mlContext.Transforms.Text.ApplySentenceEmbedding("Features", "Clean"))
            .AppendCacheCheckpoint(mlContext)
            .Append(mlContext.BinaryClassification.Trainers.SdcaLogisticRegression())
            .Append(mlContext.Transforms.CopyColumns("Decision", "PredictedLabel"));
        var model = pipeline.Fit(split.TrainSet);
        var metrics = mlContext.BinaryClassification.Evaluate(model.Transform(split.TestSet));
        Assert.IsGreaterThan(0.85, metrics.Accuracy);

        using var stream = new MemoryStream();
        mlContext.Model.SavePipeline(model, data.Schema, stream);
        stream.Position = 0;
        var fresh = new MLContext(seed: 99);
        var loaded = fresh.Model.LoadPipeline(stream, out var inputSchema);
        Assert.AreEqual(data.Schema.Count, inputSchema.Count);
        var before = model.Transform(split.TestSet).GetColumn<float>("Score").ToArray();
        var after = loaded.Transform(split.TestSet).GetColumn<float>("Score").ToArray();
        CollectionAssert.AreEqual(before, after);
        CollectionAssert.AreEqual(
            model.Transform(split.TestSet).GetColumn<bool>("Decision").ToArray(),
            loaded.Transform(split.TestSet).GetColumn<bool>("Decision").ToArray());

        var engine = fresh.Model.CreatePredictionEngine<SentenceRow, BinaryPrediction>(loaded);
        Assert.IsTrue(engine.Predict(new SentenceRow { Text = "Absolutely wonderful food and friendly staff." }).PredictedLabel);
        Assert.IsFalse(engine.Predict(new SentenceRow { Text = "Terrible service, cold food, never again." }).PredictedLabel);
    }

    [TestMethod]
    public void Bad_columns_fail_with_messages_naming_them()
    {
        var estimator = mlContext.Transforms.Text.ApplySentenceEmbedding("Features", "Missing");
        var missing = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => estimator.Fit(sample));
        StringAssert.Contains(missing.Message, "'Missing'");

        var numeric = mlContext.Transforms.Text.ApplySentenceEmbedding("Features", nameof(SentenceRow.Label));
        var wrongType = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => numeric.GetOutputSchema(TestSchemas.Shape(sample.Schema)));
        StringAssert.Contains(wrongType.Message, "'Label'");
        StringAssert.Contains(wrongType.Message, "text");

        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => mlContext.Transforms.Text.ApplySentenceEmbedding("F", "Text", inferenceBatchSize: 0));

        var emptyInput = Assert.ThrowsExactly<ArgumentException>(() =>
            mlContext.Transforms.Text.ApplySentenceEmbedding(new SentenceEmbeddingOptions { InputColumnName = "" }));
        Assert.AreEqual("InputColumnName", emptyInput.ParamName);

        // Beyond the model's positions: the message names the option as the user set it, not an internal class.
        var tooLong = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() =>
            mlContext.Transforms.Text.ApplySentenceEmbedding(new SentenceEmbeddingOptions { InputColumnName = "Text", MaxTokens = 513 }).Fit(sample));
        Assert.AreEqual("MaxTokens", tooLong.ParamName);
        Assert.Contains("512", tooLong.Message);
        Assert.DoesNotContain("SentenceEncoderOptions", tooLong.Message);
    }

    [TestMethod]
    public void MLNet_Model_Save_is_refused_with_the_method_to_use()
    {
        using var stream = new MemoryStream();
        var error = Assert.ThrowsExactly<NotSupportedException>(() => mlContext.Model.Save(transformer, sample.Schema, stream));
        StringAssert.Contains(error.Message, "mlContext.Model.SavePipeline");
    }

    public sealed class EmbeddingRow
    {
        [VectorType(384)]
        public float[] Features { get; set; } = [];
    }

    public sealed class BinaryPrediction
    {
        public bool PredictedLabel { get; set; }

        public float Probability { get; set; }
    }
}
