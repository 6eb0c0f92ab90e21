using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Transformer.MLNet.Examples.Data;
using Transformer.MLNet.Network.Classification;
using Transformer.MLNet.Network.Embeddings;
using Transformer.MLNet.Network.Export;
using Transformer.MLNet.Network.Pretrained;
using Transformer.MLNet.Network.TokenClassification;
using Transformer.MLNet.Network.Tests.Pretrained;
using Transformer.MLNet.Network.Tokenization;
using static TorchSharp.torch;

namespace Transformer.MLNet.Network.Tests.Export;

/// <summary>
/// Each exported model run by ONNX Runtime against the same model run by TorchSharp, on the task's real test texts:
/// the issue's bar is max |Δ| ≤ 1e-4 on embeddings and logits and identical predicted labels.
/// </summary>
[TestClass]
public sealed class OnnxExportTests
{
    private const double Tolerance = 1e-4;

    public TestContext TestContext { get; set; } = null!;

    [TestMethod]
    [TestCategory("Parity")]
    public void Exported_sentence_encoder_matches_torchsharp_on_every_stsb_test_sentence()
    {
        string folder = NewFolder();
        using var encoder = SentenceEncoder.FromPretrained(MiniLmFixture.Model);
        var manifest = encoder.ExportOnnx(folder);
        Assert.AreEqual(OnnxExportTask.SentenceEmbedding, manifest.Task);
        Assert.AreEqual(manifest.ToJson(), OnnxExportManifest.FromJson(File.ReadAllText(Path.Combine(folder, OnnxExportManifest.FileName))).ToJson());
        CollectionAssert.AreEqual(File.ReadAllLines(Path.Combine(folder, "vocab.txt")),
            Enumerable.Range(0, MiniLmFixture.Model.Tokenizer.VocabularySize).Select(MiniLmFixture.Model.Tokenizer.IdToToken).ToArray());

        var sentences = MiniLmFixture.Sentences;
        var ours = encoder.Encode(sentences);
        var ids = sentences.Select(s => MiniLmFixture.Model.Tokenizer.EncodeToIds(s, manifest.MaxTokens, out _)).ToArray();
        using var session = Session(folder);
        CollectionAssert.AreEqual(new[] { "input_ids", "attention_mask", "token_type_ids" }, session.InputMetadata.Keys.ToArray());
        var onnx = RunRows(session, ids, null, null, BertOnnxGraph.SentenceEmbedding, manifest.OutputSize);

        double maxDelta = MaxDelta(ours, onnx);
        TestContext.WriteLine($"{sentences.Count} sentences: max |Δ| sentence_embedding = {maxDelta:E2}");
        Assert.IsLessThanOrEqualTo(Tolerance, maxDelta);
    }

    [TestMethod]
    [TestCategory("Parity")]
    public void Int8_weights_keep_stsb_spearman_within_half_a_point_and_replace_every_weight_matmul()
    {
        string folder = NewFolder(), quantized = NewFolder();
        using var encoder = SentenceEncoder.FromPretrained(MiniLmFixture.Model);
        var manifest = encoder.ExportOnnx(folder);
        var int8 = OnnxInt8Quantizer.Quantize(folder, quantized);
        Assert.AreEqual(OnnxInt8Quantizer.Int8Dynamic, int8.WeightQuantization);
        Assert.AreEqual((manifest with { WeightQuantization = OnnxInt8Quantizer.Int8Dynamic }).ToJson(), int8.ToJson());
        CollectionAssert.AreEqual(File.ReadAllBytes(Path.Combine(folder, "vocab.txt")), File.ReadAllBytes(Path.Combine(quantized, "vocab.txt")));

        // Every linear layer's MatMul (6 per layer) became an integer product; the attention products stay float.
        var graph = Onnx.ModelProto.Parser.ParseFrom(File.ReadAllBytes(Path.Combine(quantized, OnnxExportManifest.ModelFileName))).Graph;
        var weights = graph.Initializer.Select(i => i.Name).ToHashSet();
        Assert.AreEqual(6 * MiniLmFixture.Model.Config.EncoderLayers, graph.Node.Count(n => n.OpType == "MatMulInteger"));
        Assert.AreEqual(0, graph.Node.Count(n => n.OpType == "MatMul" && weights.Contains(n.Input[1])), "a float weight MatMul is left");
        Assert.AreEqual(2 * MiniLmFixture.Model.Config.EncoderLayers, graph.Node.Count(n => n.OpType == "MatMul"));
        long floatBytes = new FileInfo(Path.Combine(folder, OnnxExportManifest.ModelFileName)).Length;
        long int8Bytes = new FileInfo(Path.Combine(quantized, OnnxExportManifest.ModelFileName)).Length;

        var pairs = MiniLmFixture.Pairs;
        var ids = MiniLmFixture.Sentences.Select(s => MiniLmFixture.Model.Tokenizer.EncodeToIds(s, manifest.MaxTokens, out _)).ToArray();
        double Spearman(string exported)
        {
            using var session = Session(exported);
            var vectors = RunRows(session, ids, null, null, BertOnnxGraph.SentenceEmbedding, manifest.OutputSize);
            var cosines = pairs.Select((_, i) => EmbeddingSimilarity.Cosine(vectors[2 * i], vectors[2 * i + 1])).ToList();
            return Evaluation.Correlation.Spearman(cosines, [.. pairs.Select(p => p.Score)]);
        }

        double full = Spearman(folder), reduced = Spearman(quantized);
        TestContext.WriteLine($"STS-B test Spearman: float32 {full:F4}, int8 weights {reduced:F4}; model.onnx {floatBytes / 1e6:F1} MB -> {int8Bytes / 1e6:F1} MB");
        Assert.AreEqual(0.8203, full, 0.0005);
        Assert.IsLessThan(0.005, Math.Abs(full - reduced), "int8 weights move STS-B Spearman by less than half a point");
        Assert.IsLessThan(0.7 * floatBytes, (double)int8Bytes);

        var again = Assert.ThrowsExactly<InvalidDataException>(() => OnnxInt8Quantizer.Quantize(quantized, NewFolder()));
        StringAssert.Contains(again.Message, "already quantized");
        Assert.ThrowsExactly<ArgumentException>(() => OnnxInt8Quantizer.Quantize(folder, folder));
    }

    [TestMethod]
    public void Exported_encoder_weights_read_back_as_the_same_state_dict()
    {
        string folder = NewFolder();
        using var encoder = SentenceEncoder.FromPretrained(MiniLmFixture.Model);
        encoder.ExportOnnx(folder);
        var read = OnnxBertWeights.ReadStateDict(File.ReadAllBytes(Path.Combine(folder, OnnxExportManifest.ModelFileName)));
        try
        {
            var original = MiniLmFixture.Model.Model.named_parameters().Where(p => !p.name.StartsWith("pooler.", StringComparison.Ordinal)).ToList();
            CollectionAssert.AreEquivalent(original.Select(p => p.name).ToList(), read.Keys.ToList());
            foreach (var (name, parameter) in original)
                Assert.IsTrue(parameter.detach().allclose(read[name], 0, 0), $"{name} differs after the round trip");
        }
        finally
        {
            foreach (var tensor in read.Values)
                tensor.Dispose();
        }
    }

    [TestMethod]
    [TestCategory("Parity")]
    [DataRow(false, 3)]
    [DataRow(true, 2)]
    [DataRow(true, 1)]
    public void Exported_text_classifier_matches_torchsharp_on_stsb_test(bool pairs, int classes)
    {
        manual_seed(5);
        using var pretrained = PretrainedBert.LoadMiniLm();
        var settings = new TextClassifierSettings(classes, 128, 0.1) { Pairs = pairs, Regression = classes == 1, TargetMean = 2.5, TargetScale = 1.5 };
        using var classifier = TextClassifier.Create(pretrained.Model, pretrained.Tokenizer, settings);
        string folder = NewFolder();
        var manifest = classifier.ExportOnnx(folder);
        Assert.AreEqual(classes == 1 ? OnnxExportTask.TextRegression : OnnxExportTask.TextClassification, manifest.Task);

        var rows = MiniLmFixture.Pairs;
        var first = rows.Select(p => p.Sentence1).ToArray();
        string[]? second = pairs ? rows.Select(p => p.Sentence2).ToArray() : null;
        var ours = classifier.PredictLogits(first, second);
        var encoded = classifier.Encode(first, second, "second", out _);
        using var session = Session(folder);
        var onnx = RunRows(session, [.. encoded.Select(e => e.Ids)], [.. encoded.Select(e => e.SecondStart)], null, BertOnnxGraph.Logits, classes);

        double maxDelta = MaxDelta(ours, onnx);
        int sameLabel = Enumerable.Range(0, ours.Length).Count(i => ArgMax(ours[i]) == ArgMax(onnx[i]));
        TestContext.WriteLine($"{(pairs ? "pairs" : "single texts")}, {classes} outputs, {ours.Length} rows: max |Δ| logits = {maxDelta:E2}, same label {sameLabel}");
        Assert.IsLessThanOrEqualTo(Tolerance, maxDelta);
        Assert.AreEqual(ours.Length, sameLabel, "predicted labels differ");
        if (classes == 1)
        {
            var scores = RunRows(session, [.. encoded.Select(e => e.Ids)], [.. encoded.Select(e => e.SecondStart)], null, BertOnnxGraph.Score, 1);
            var ourScores = classifier.PredictScores(first, second);
            Assert.IsLessThanOrEqualTo(Tolerance * 1.5, MaxDelta([.. ourScores.Select(s => new[] { s })], scores), "score differs");
        }
    }

    [TestMethod]
    [TestCategory("Parity")]
    public void Exported_token_classifier_matches_torchsharp_on_uner_test()
    {
        manual_seed(9);
        using var pretrained = PretrainedBert.LoadMiniLm();
        string[] labels = ["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC"];
        using var classifier = TokenClassifier.Create(pretrained.Model, pretrained.Tokenizer, new TokenClassifierSettings(labels, 128, 0.1));
        // The casing embedding starts at zero; give it values so that the test sees it.
        using (no_grad())
            classifier.Model.named_parameters().Single(p => p.name == "casing_embeddings.weight").parameter.normal_(0, 0.5);
        string folder = NewFolder();
        var manifest = classifier.ExportOnnx(folder);
        CollectionAssert.AreEqual(labels, manifest.Labels!.ToArray());

        var sentences = UniversalNer.ReadEnglishEwt("test").Take(600).ToList();
        var encoded = sentences.Select(s => classifier.Encode(s.Words)).ToList();
        using var session = Session(folder);
        double maxDelta = 0;
        int tokens = 0, sameLabel = 0;
        for (int start = 0; start < encoded.Count; start += 32)
        {
            var batch = encoded.Skip(start).Take(32).ToList();
            float[] ours;
            using (var scope = NewDisposeScope())
            using (no_grad())
            {
                classifier.Model.eval();
                ours = classifier.Logits(batch).contiguous().data<float>().ToArray();   // (B, T, L)
            }

            var onnx = Run(session, [.. batch.Select(e => e.Ids)], null, [.. batch.Select(e => e.Casing)], BertOnnxGraph.Logits);
            int width = batch.Max(e => e.Ids.Length);
            for (int b = 0; b < batch.Count; b++)
            {
                for (int t = 0; t < batch[b].Ids.Length; t++, tokens++)
                {
                    var a = ours.AsSpan((b * width + t) * labels.Length, labels.Length);
                    var o = onnx.AsSpan((b * width + t) * labels.Length, labels.Length);
                    for (int l = 0; l < labels.Length; l++)
                        maxDelta = Math.Max(maxDelta, Math.Abs(a[l] - o[l]));
                    sameLabel += ArgMax(a) == ArgMax(o) ? 1 : 0;
                }
            }
        }

        TestContext.WriteLine($"{sentences.Count} sentences, {tokens} tokens: max |Δ| logits = {maxDelta:E2}, same label {sameLabel}");
        Assert.IsLessThanOrEqualTo(Tolerance, maxDelta);
        Assert.AreEqual(tokens, sameLabel, "predicted labels differ");
    }

    private string NewFolder()
    {
        string folder = Path.Combine(TestContext.TestRunDirectory ?? Path.GetTempPath(), "onnx-export", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(folder);
        return folder;
    }

    private static InferenceSession Session(string folder)
    {
        // ONNX Runtime's idle workers spin-wait by default, which starves TorchSharp's threads when both alternate.
        using var options = new SessionOptions();
        options.AddSessionConfigEntry("session.intra_op.allow_spinning", "0");
        return new InferenceSession(Path.Combine(folder, OnnxExportManifest.ModelFileName), options);
    }

    /// <summary>Runs rows in length-sorted batches of 64 and returns each row's output vector, in the rows' order.</summary>
    private static float[][] RunRows(InferenceSession session, int[][] ids, int[]? secondStarts, long[][]? casing, string output, int size)
    {
        var result = new float[ids.Length][];
        int[] order = Enumerable.Range(0, ids.Length).OrderBy(i => ids[i].Length).ToArray();
        for (int start = 0; start < order.Length; start += 64)
        {
            var rows = order.Skip(start).Take(64).ToArray();
            var flat = Run(session, [.. rows.Select(r => ids[r])], secondStarts is null ? null : [.. rows.Select(r => secondStarts[r])],
                casing is null ? null : [.. rows.Select(r => casing[r])], output);
            for (int b = 0; b < rows.Length; b++)
                result[rows[b]] = flat.AsSpan(b * size, size).ToArray();
        }

        return result;
    }

    private static float[] Run(InferenceSession session, int[][] ids, int[]? secondStarts, long[][]? casing, string output)
    {
        var batch = new TokenizedBatch(ids, 0, truncatedCount: 0, secondStarts);
        int[] dims = [batch.Count, batch.SequenceLength];
        var inputs = new List<NamedOnnxValue>
        {
            NamedOnnxValue.CreateFromTensor("input_ids", new DenseTensor<long>(batch.InputIds, dims)),
            NamedOnnxValue.CreateFromTensor("attention_mask", new DenseTensor<long>(batch.AttentionMask, dims)),
            NamedOnnxValue.CreateFromTensor("token_type_ids", new DenseTensor<long>(batch.TokenTypeIds, dims)),
        };
        if (casing is not null)
        {
            var flat = new long[batch.Count * batch.SequenceLength];
            for (int b = 0; b < casing.Length; b++)
                casing[b].CopyTo(flat, b * batch.SequenceLength);
            inputs.Add(NamedOnnxValue.CreateFromTensor("casing_ids", new DenseTensor<long>(flat, dims)));
        }

        using var results = session.Run(inputs, [output]);
        return ((DenseTensor<float>)results.Single().AsTensor<float>()).Buffer.ToArray();
    }

    private static double MaxDelta(float[][] a, float[][] b)
    {
        Assert.HasCount(a.Length, b);
        double max = 0;
        for (int i = 0; i < a.Length; i++)
        {
            Assert.HasCount(a[i].Length, b[i]);
            for (int j = 0; j < a[i].Length; j++)
                max = Math.Max(max, Math.Abs(a[i][j] - b[i][j]));
        }

        return max;
    }

    private static int ArgMax(ReadOnlySpan<float> values)
    {
        int best = 0;
        for (int i = 1; i < values.Length; i++)
            best = values[i] > values[best] ? i : best;
        return best;
    }
}
