using Microsoft.ML;
using Microsoft.ML.Data;
using Transformer.MLNet.Classification;
using Transformer.MLNet.Embeddings;
using Transformer.MLNet.Examples.Data;
using Transformer.MLNet.Network.Export;
using Transformer.MLNet.Onnx;
using Transformer.MLNet.Persistence;
using Transformer.MLNet.Tests.Classification;
using Transformer.MLNet.Tests.Reliability;
using Transformer.MLNet.Tests.Similarity;

namespace Transformer.MLNet.Tests.Onnx;

/// <summary>
/// Transformer.MLNet.Onnx against the TorchSharp transformers: each fitted model is exported with ExportOnnx, run through
/// ApplyOnnxExport on ONNX Runtime, and must give the same columns, values (max |Δ| ≤ 1e-4), predicted labels and
/// evaluator metrics on real data.
/// </summary>
[TestClass]
[TestCategory("Parity")]
public sealed class OnnxTextTransformerTests
{
    public TestContext TestContext { get; set; } = null!;

    private string NewFolder(string name) => Path.Combine(TestContext.TestRunDirectory ?? Path.GetTempPath(), "onnx-apply", name + "-" + Guid.NewGuid().ToString("N")[..8]);

    [TestMethod]
    public void Sentence_embeddings_on_onnx_runtime_equal_the_torchsharp_ones_on_every_sts_test_sentence()
    {
        var mlContext = new MLContext(seed: 1);
        var sentences = StsBenchmark.Read("test").SelectMany(p => new[] { p.Sentence1, p.Sentence2 }).Select(s => new TextRow { Text = s }).ToList();
        var data = mlContext.Data.LoadFromEnumerable(sentences);
        using var torch = mlContext.Transforms.Text.ApplySentenceEmbedding("Features", nameof(TextRow.Text)).Fit(data);
        string folder = NewFolder("embeddings");
        torch.ExportOnnx(folder);

        using var onnx = mlContext.Transforms.Text.ApplyOnnxExport(folder, nameof(TextRow.Text)).Fit(data);
        Assert.AreEqual(OnnxExportTask.SentenceEmbedding, onnx.Task);
        var expected = torch.Transform(data).GetColumn<float[]>("Features").ToList();
        var transformed = onnx.Transform(data);
        Assert.AreEqual(new VectorDataViewType(NumberDataViewType.Single, 384), transformed.Schema["Features"].Type);
        var actual = transformed.GetColumn<float[]>("Features").ToList();
        double worst = MaxDelta(expected, actual);
        TestContext.WriteLine($"{sentences.Count} sentences: max |delta| {worst:G3}");
        Assert.HasCount(2758, actual);
        Assert.IsLessThanOrEqualTo(1e-4, worst);

        // One row at a time, as a service would call it.
        var engine = mlContext.Model.CreatePredictionEngine<TextRow, EmbeddingRow>(onnx);
        for (int i = 0; i < 5; i++)
            Assert.IsLessThanOrEqualTo(1e-4, MaxDelta([expected[i]], [engine.Predict(sentences[i]).Features]));
    }

    [TestMethod]
    public void A_binary_classifier_gives_the_same_scores_labels_and_metrics_on_onnx_runtime()
    {
        var mlContext = TinyPipelines.Context;
        var model = TinyPipelines.BinaryModel;
        string folder = NewFolder("binary");
        mlContext.Model.ExportOnnx(model, folder);
        var rows = UciSentences.Read("imdb");
        var data = mlContext.Data.LoadFromEnumerable(rows);
        using var onnx = mlContext.Transforms.Text.ApplyOnnxExport(folder, nameof(SentenceRow.Text)).Fit(data);
        CollectionAssert.AreEqual(new[] { "False", "True" }, onnx.ClassNames!.ToArray());

        var expected = model.Transform(data);
        var actual = onnx.Transform(data);
        foreach (string column in new[] { "Score", "Probability", "PredictedLabel" })
            Assert.AreEqual(expected.Schema[column].Type, actual.Schema[column].Type, column);
        var scores = actual.GetColumn<float>("Score").ToArray();
        Assert.HasCount(rows.Count, scores);
        Assert.IsLessThanOrEqualTo(1e-4, MaxDelta([expected.GetColumn<float>("Score").ToArray()], [scores]));
        var predicted = actual.GetColumn<bool>("PredictedLabel").ToArray();
        CollectionAssert.AreEqual(expected.GetColumn<bool>("PredictedLabel").ToArray(), predicted);
        Assert.AreEqual(2, predicted.Distinct().Count(), "both labels are predicted, so their agreement says something");

        var torchMetrics = mlContext.BinaryClassification.Evaluate(expected);
        var onnxMetrics = mlContext.BinaryClassification.Evaluate(actual);
        TestContext.WriteLine($"accuracy torch {torchMetrics.Accuracy:F4} onnx {onnxMetrics.Accuracy:F4}; AUC {torchMetrics.AreaUnderRocCurve:F4} / {onnxMetrics.AreaUnderRocCurve:F4}");
        Assert.AreEqual(torchMetrics.Accuracy, onnxMetrics.Accuracy);
        // The tiny model's scores nearly tie (AUC about 0.5), and scores that agree to 1e-4 may swap the order of two
        // near-tied rows: each swapped (positive, negative) pair moves the AUC by 1 / (500 × 500) = 4e-6.
        Assert.AreEqual(torchMetrics.AreaUnderRocCurve, onnxMetrics.AreaUnderRocCurve, 2e-5);

        var engine = mlContext.Model.CreatePredictionEngine<SentenceRow, BinaryPrediction>(onnx);
        var one = engine.Predict(new SentenceRow { Text = "The food was cold and the waiter rude." });
        Assert.AreEqual(one.Score > 0, one.PredictedLabel);
        Assert.AreEqual(1 / (1 + Math.Exp(-one.Score)), one.Probability, 1e-6);
    }

    [TestMethod]
    public void An_int8_export_runs_through_the_same_catalog_method_and_agrees_with_the_float32_one()
    {
        var mlContext = TinyPipelines.Context;
        string folder = NewFolder("binary-fp32"), int8Folder = NewFolder("binary-int8");
        var manifest = mlContext.Model.ExportOnnx(TinyPipelines.BinaryModel, folder, int8Folder);
        Assert.AreEqual("Int8Dynamic", manifest.WeightQuantization);
        var data = mlContext.Data.LoadFromEnumerable(UciSentences.Read("imdb"));
        using var full = mlContext.Transforms.Text.ApplyOnnxExport(folder, nameof(SentenceRow.Text)).Fit(data);
        using var int8 = mlContext.Transforms.Text.ApplyOnnxExport(int8Folder, nameof(SentenceRow.Text)).Fit(data);
        var a = full.Transform(data).GetColumn<bool>("PredictedLabel").ToArray();
        var b = int8.Transform(data).GetColumn<bool>("PredictedLabel").ToArray();
        double agreement = a.Zip(b, (x, y) => x == y ? 1.0 : 0.0).Average();
        var accuracy = mlContext.BinaryClassification.Evaluate(int8.Transform(data)).Accuracy;
        TestContext.WriteLine($"labels agree on {agreement:P1} of {a.Length} sentences; int8 accuracy {accuracy:F4}");
        Assert.IsGreaterThan(0.95, agreement);
    }

    [TestMethod]
    public void A_multiclass_classifier_keeps_its_class_names_and_predictions_on_onnx_runtime()
    {
        var mlContext = new MLContext(seed: 1);
        var rows = UciSentences.Read("yelp").Concat(UciSentences.Read("imdb")).ToList();
        var data = mlContext.Data.ShuffleRows(mlContext.Data.LoadFromEnumerable(rows), seed: 1);
        var pipeline = mlContext.Transforms.Conversion.MapValueToKey("Label", nameof(SentenceRow.Category))
            .Append(mlContext.MulticlassClassification.Trainers.TextClassifier(TinyScratch.Options(epochs: 4, seed: 1)));
        var model = pipeline.Fit(mlContext.Data.TakeRows(data, 1200));
        var torch = (MulticlassTextClassificationTransformer)model.LastTransformer;
        string folder = NewFolder("multiclass");
        var manifest = torch.ExportOnnx(folder);
        CollectionAssert.AreEqual(torch.ClassNames.ToArray(), manifest.Labels!.ToArray(), "the export carries the class names");

        var test = mlContext.Data.SkipRows(data, 1600);
        var keyed = model.First().Transform(test);   // the Label key column, for the evaluator
        using var onnx = mlContext.Transforms.Text.ApplyOnnxExport(folder, nameof(SentenceRow.Text)).Fit(keyed);
        CollectionAssert.AreEqual(torch.ClassNames.ToArray(), onnx.ClassNames!.ToArray());
        var expected = torch.Transform(keyed);
        var actual = onnx.Transform(keyed);
        Assert.AreEqual(expected.Schema["PredictedLabel"].Type, actual.Schema["PredictedLabel"].Type);
        Assert.IsLessThanOrEqualTo(1e-4, MaxDelta(expected.GetColumn<float[]>("Score").ToList(), actual.GetColumn<float[]>("Score").ToList()));
        var predicted = actual.GetColumn<uint>("PredictedLabel").ToArray();
        CollectionAssert.AreEqual(expected.GetColumn<uint>("PredictedLabel").ToArray(), predicted);
        Assert.IsGreaterThan(1, predicted.Distinct().Count(), "the model predicts more than one class");
        VBuffer<ReadOnlyMemory<char>> slots = default;
        actual.Schema["Score"].GetSlotNames(ref slots);
        CollectionAssert.AreEqual(torch.ClassNames.ToArray(), slots.DenseValues().Select(s => s.ToString()).ToArray());

        var torchMetrics = mlContext.MulticlassClassification.Evaluate(expected);
        var onnxMetrics = mlContext.MulticlassClassification.Evaluate(actual);
        TestContext.WriteLine($"{torch.ClassNames.Count} classes, micro accuracy torch {torchMetrics.MicroAccuracy:F4} onnx {onnxMetrics.MicroAccuracy:F4}");
        Assert.AreEqual(torchMetrics.MicroAccuracy, onnxMetrics.MicroAccuracy);
        Assert.AreEqual(torchMetrics.LogLoss, onnxMetrics.LogLoss, 1e-4);
    }

    [TestMethod]
    public void A_cross_encoder_scores_pairs_on_onnx_runtime_as_on_torchsharp()
    {
        var mlContext = TinyPairModels.Context;
        var model = TinyPairModels.CrossEncoder;
        string folder = NewFolder("cross-encoder");
        model.ExportOnnx(folder);
        var test = mlContext.Data.LoadFromEnumerable(PairRow.Read("test", 0, 1379));

        var single = Assert.ThrowsExactly<ArgumentException>(() => mlContext.Transforms.Text.ApplyOnnxExport(folder, nameof(PairRow.Sentence1)).Fit(test));
        StringAssert.Contains(single.Message, "SecondTextColumnName");
        using var onnx = mlContext.Transforms.Text.ApplyOnnxExport(folder, nameof(PairRow.Sentence1), nameof(PairRow.Sentence2)).Fit(test);
        var expected = model.Transform(test);
        var actual = onnx.Transform(test);
        var scores = actual.GetColumn<float>("Score").ToArray();
        Assert.HasCount(1379, scores);
        Assert.IsLessThanOrEqualTo(1e-4, MaxDelta([expected.GetColumn<float>("Score").ToArray()], [scores]));
        var torchMetrics = mlContext.Regression.Evaluate(expected, nameof(PairRow.Label));
        var onnxMetrics = mlContext.Regression.Evaluate(actual, nameof(PairRow.Label));
        TestContext.WriteLine($"RMSE torch {torchMetrics.RootMeanSquaredError:F5} onnx {onnxMetrics.RootMeanSquaredError:F5}");
        Assert.AreEqual(torchMetrics.RootMeanSquaredError, onnxMetrics.RootMeanSquaredError, 1e-4);

        var engine = mlContext.Model.CreatePredictionEngine<PairRow, ScorePrediction>(onnx);
        var first = PairRow.Read("test", 0, 1)[0];
        Assert.AreEqual(scores[0], engine.Predict(first).Score, 1e-5);
        var rows = PairRow.Read("test", 0, 3);
        rows[1].Sentence2 = null!;
        var missing = Assert.ThrowsExactly<InvalidOperationException>(() => onnx.Transform(mlContext.Data.LoadFromEnumerable(rows)).GetColumn<float>("Score").ToArray());
        StringAssert.Contains(missing.Message, "Row 1");
        StringAssert.Contains(missing.Message, "'Sentence2'");
    }

    [TestMethod]
    public void Threads_with_their_own_cursors_and_prediction_engines_get_the_sequential_scores()
    {
        var mlContext = TinyPipelines.Context;
        string folder = NewFolder("threads");
        mlContext.Model.ExportOnnx(TinyPipelines.BinaryModel, folder);
        var rows = UciSentences.Read("yelp").Take(200).ToList();
        var data = mlContext.Data.LoadFromEnumerable(rows);
        using var onnx = mlContext.Transforms.Text.ApplyOnnxExport(new OnnxTextOptions { ModelFolder = folder, InferenceBatchSize = 8 }).Fit(data);
        var expected = onnx.Transform(data).GetColumn<float>("Score").ToArray();

        var cursors = new float[4][];
        var singles = new float[4][];
        Parallel.For(0, 8, new ParallelOptions { MaxDegreeOfParallelism = 8 }, k =>
        {
            if (k < 4)
            {
                cursors[k] = onnx.Transform(data).GetColumn<float>("Score").ToArray();
                return;
            }

            var engine = mlContext.Model.CreatePredictionEngine<SentenceRow, BinaryPrediction>(onnx);
            singles[k - 4] = [.. rows.Take(50).Select(r => engine.Predict(r).Score)];
        });
        foreach (var scores in cursors)
            Assert.IsLessThanOrEqualTo(1e-6, MaxDelta([expected], [scores]));
        foreach (var scores in singles)
            Assert.IsLessThanOrEqualTo(1e-5, MaxDelta([expected[..50]], [scores]));
    }

    [TestMethod]
    public void Bad_folders_damaged_files_and_unsupported_exports_get_errors_that_say_what_to_do()
    {
        var mlContext = TinyPipelines.Context;
        var data = TinyPipelines.TrainingData;
        string folder = NewFolder("errors");
        mlContext.Model.ExportOnnx(TinyPipelines.BinaryModel, folder);

        var nowhere = Assert.ThrowsExactly<DirectoryNotFoundException>(() => mlContext.Transforms.Text.ApplyOnnxExport(folder + "-missing", "Text").Fit(data));
        StringAssert.Contains(nowhere.Message, "ExportOnnx");
        Assert.ThrowsExactly<ArgumentException>(() => mlContext.Transforms.Text.ApplyOnnxExport(" ", "Text"));
        var batch = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => mlContext.Transforms.Text.ApplyOnnxExport(new OnnxTextOptions { ModelFolder = folder, InferenceBatchSize = 0 }));
        StringAssert.Contains(batch.Message, "InferenceBatchSize");
        var column = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => mlContext.Transforms.Text.ApplyOnnxExport(folder, "Review").Fit(data));
        StringAssert.Contains(column.Message, "'Review'");

        string copy(string name)
        {
            string target = NewFolder(name);
            Directory.CreateDirectory(target);
            foreach (string file in Directory.GetFiles(folder))
                File.Copy(file, Path.Combine(target, Path.GetFileName(file)));
            return target;
        }

        string noVocabulary = copy("no-vocab");
        File.Delete(Path.Combine(noVocabulary, OnnxExportManifest.VocabularyFileName));
        var missing = Assert.ThrowsExactly<FileNotFoundException>(() => mlContext.Transforms.Text.ApplyOnnxExport(noVocabulary, "Text").Fit(data));
        StringAssert.Contains(missing.Message, "vocab.txt");

        string truncated = copy("truncated");
        string modelPath = Path.Combine(truncated, OnnxExportManifest.ModelFileName);
        var bytes = File.ReadAllBytes(modelPath);
        File.WriteAllBytes(modelPath, bytes[..(bytes.Length / 2)]);
        var damaged = Assert.ThrowsExactly<InvalidDataException>(() => mlContext.Transforms.Text.ApplyOnnxExport(truncated, "Text").Fit(data));
        StringAssert.Contains(damaged.Message, "model.onnx");

        string tokens = copy("token-task");
        string manifestPath = Path.Combine(tokens, OnnxExportManifest.FileName);
        var manifest = OnnxExportManifest.FromJson(File.ReadAllText(manifestPath)) with { Task = OnnxExportTask.TokenClassification };
        File.WriteAllText(manifestPath, manifest.ToJson());
        var unsupported = Assert.ThrowsExactly<NotSupportedException>(() => mlContext.Transforms.Text.ApplyOnnxExport(tokens, "Text").Fit(data));
        StringAssert.Contains(unsupported.Message, "token classifier");

        string longer = copy("longer");
        string longerManifest = Path.Combine(longer, OnnxExportManifest.FileName);
        var raised = OnnxExportManifest.FromJson(File.ReadAllText(longerManifest));
        File.WriteAllText(longerManifest, (raised with { MaxTokens = raised.MaxTokens + 1 }).ToJson());
        var tooLong = Assert.ThrowsExactly<InvalidDataException>(() => mlContext.Transforms.Text.ApplyOnnxExport(longer, "Text").Fit(data));
        StringAssert.Contains(tooLong.Message, $"has max_tokens {raised.MaxTokens + 1}, but model.onnx was exported for at most {raised.MaxTokens} tokens");

        using var onnx = mlContext.Transforms.Text.ApplyOnnxExport(folder, "Text").Fit(data);
        // Hostile text: empty, control characters, a 20,000-word text (cut to the model's token limit and counted).
        var hostile = TinyPipelines.Rows("", "\u0000\u0007 tab\tand\r\nnewline \uD83D\uDE00", string.Join(' ', Enumerable.Repeat("word", 20_000)));
        var hostileScores = onnx.Transform(hostile).GetColumn<float>("Score").ToArray();
        Assert.HasCount(3, hostileScores);
        Assert.IsTrue(hostileScores.All(float.IsFinite));
        Assert.AreEqual(1, onnx.TruncatedTextCount);
        Assert.IsLessThanOrEqualTo(1e-4, MaxDelta([TinyPipelines.BinaryModel.Transform(hostile).GetColumn<float>("Score").ToArray()], [hostileScores]));
        var save = Assert.ThrowsExactly<NotSupportedException>(() => mlContext.Model.Save(onnx, data.Schema, Path.Combine(folder, "model.zip")));
        StringAssert.Contains(save.Message, "ApplyOnnxExport");
        string archivePath = Path.Combine(folder, "pipeline.zip");
        var archive = Assert.ThrowsExactly<NotSupportedException>(() => mlContext.Model.SavePipeline(onnx, data.Schema, archivePath));
        StringAssert.Contains(archive.Message, "OnnxTextTransformer cannot be saved in a pipeline archive");
        Assert.DoesNotContain("mlContext.Model.Save", archive.Message);
        Assert.IsFalse(File.Exists(archivePath), "no half-written archive is left");
        var again = Assert.ThrowsExactly<NotSupportedException>(() => onnx.ExportOnnx(NewFolder("again")));
        StringAssert.Contains(again.Message, folder);
    }

    [TestMethod]
    public void The_onnx_components_and_what_they_load_do_not_reference_torchsharp()
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var pending = new Queue<System.Reflection.Assembly>([typeof(OnnxTextTransformer).Assembly]);
        while (pending.TryDequeue(out var assembly))
        {
            foreach (var reference in assembly.GetReferencedAssemblies())
            {
                string name = reference.Name!;
                if (!name.StartsWith("Transformer.MLNet", StringComparison.Ordinal) || !seen.Add(name))
                    continue;
                pending.Enqueue(System.Reflection.Assembly.Load(reference));
            }

            foreach (var reference in assembly.GetReferencedAssemblies())
            {
                Assert.IsFalse(reference.Name!.StartsWith("TorchSharp", StringComparison.Ordinal), $"{assembly.GetName().Name} references {reference.Name}");
                Assert.AreNotEqual("Transformer.MLNet.Network", reference.Name, $"{assembly.GetName().Name} references the TorchSharp network");
                Assert.AreNotEqual("Transformer.MLNet", reference.Name, $"{assembly.GetName().Name} references the TorchSharp components");
            }
        }

        CollectionAssert.AreEquivalent(new[] { "Transformer.MLNet.Core", "Transformer.MLNet.Tokenization" }, seen.ToArray());
    }

    private static double MaxDelta(IReadOnlyList<float[]> a, IReadOnlyList<float[]> b)
    {
        Assert.HasCount(a.Count, b);
        double max = 0;
        for (int i = 0; i < a.Count; i++)
        {
            Assert.HasCount(a[i].Length, b[i]);
            for (int j = 0; j < a[i].Length; j++)
                max = Math.Max(max, Math.Abs(a[i][j] - b[i][j]));
        }

        return max;
    }

    private sealed class TextRow
    {
        public string Text { get; set; } = "";
    }

    private sealed class EmbeddingRow
    {
        [VectorType(384)]
        public float[] Features { get; set; } = [];
    }
}
