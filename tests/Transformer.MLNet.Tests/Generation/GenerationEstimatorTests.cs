using Microsoft.ML;
using Microsoft.ML.Data;
using Transformer.MLNet.Examples.Data;
using Transformer.MLNet.Network.Configuration;
using Transformer.MLNet.Network.Generation;
using Transformer.MLNet.Persistence;
using Transformer.MLNet.TextGeneration;
using Transformer.MLNet.Translation;

namespace Transformer.MLNet.Tests.Generation;

[TestClass]
[TestCategory("Training")]
public sealed class GenerationEstimatorTests
{
    private sealed record PairRow(string Source, string Target);

    private sealed record TextRow(string Text, string Prompt);

    private static int threads;

    // Models this small gain nothing from intra-op threads, and on a busy machine their barriers cost much.
    [ClassInitialize]
    public static void OneThread(TestContext context)
    {
        threads = TorchSharp.torch.get_num_threads();
        TorchSharp.torch.set_num_threads(1);
    }

    [ClassCleanup]
    public static void RestoreThreads() => TorchSharp.torch.set_num_threads(threads);

    private static readonly TransformerConfig Small = TransformerConfig.Tiny with { MaxPositions = 64, PreLayerNorm = true };

    private static List<PairRow> ShortTatoebaPairs(int count) =>
        [.. TatoebaSpanishEnglish.Load().Where(p => p.Source.Length < 20).Take(count).Select(p => new PairRow(p.Source, p.Target))];

    [TestMethod]
    public void TranslatorAddsATextColumnAndRoundTripsThroughSavePipeline()
    {
        var mlContext = new MLContext(seed: 1);
        var data = mlContext.Data.LoadFromEnumerable(ShortTatoebaPairs(400));
        var estimator = mlContext.Transforms.Text.TrainTranslator(new TranslationOptions
        {
            Architecture = Small, Epochs = 2, BatchSize = 32, WarmupSteps = 10, LearningRate = 3e-3,
            Decoding = new GenerationOptions { MaxNewTokens = 12, BatchSize = 16 },
        });

        var shape = estimator.GetOutputSchema(TestSchemas.Shape(data.Schema));
        Assert.AreEqual(TextDataViewType.Instance, TestSchemas.Find(shape, "Translation").ItemType);

        var model = estimator.Fit(data);
        var translated = model.Transform(data);
        Assert.AreEqual(TextDataViewType.Instance, translated.Schema["Translation"].Type);
        string[] first = [.. translated.GetColumn<string>("Translation")];
        Assert.HasCount(400, first);
        Assert.IsTrue(first.Any(t => t.Length > 0));

        using var stream = new MemoryStream();
        mlContext.Model.SavePipeline(model, data.Schema, stream);
        stream.Position = 0;
        var loaded = new MLContext(seed: 9).Model.LoadPipeline(stream, out var inputSchema);
        Assert.IsNotNull(inputSchema.GetColumnOrNull("Source"));
        string[] again = [.. loaded.Transform(data).GetColumn<string>("Translation")];
        CollectionAssert.AreEqual(first, again);

        // ONNX export covers encoder models only; a translation model says so.
        var refused = Assert.ThrowsExactly<NotSupportedException>(() => mlContext.Model.ExportOnnx(model, Path.Combine(Path.GetTempPath(), "never-written")));
        StringAssert.Contains(refused.Message, "TranslationTransformer cannot be exported to ONNX");
    }

    [TestMethod]
    public void TextGeneratorCompletesPromptsAndRoundTripsThroughSavePipeline()
    {
        var (train, _) = TinyShakespeare.Load();
        var lines = train[..20_000].Split("\n\n").Select(t => new TextRow(t, t.Length > 8 ? t[..8] : t)).ToList();
        var mlContext = new MLContext(seed: 1);
        var data = mlContext.Data.LoadFromEnumerable(lines);
        var model = mlContext.Transforms.Text.TrainTextGenerator(new TextGenerationOptions
        {
            Architecture = Small, Tokenization = TextGenerationTokenization.Characters, Epochs = 1, BlockSize = 32, BatchSize = 32,
            WarmupSteps = 5, Decoding = new GenerationOptions { MaxNewTokens = 16 },
        }).Fit(data);

        var completed = model.Transform(data);
        string[] first = [.. completed.GetColumn<string>("Completion").Take(20)];
        Assert.IsTrue(first.All(c => c.Length > 0));

        using var stream = new MemoryStream();
        mlContext.Model.SavePipeline(model, data.Schema, stream);
        stream.Position = 0;
        var loaded = new MLContext(seed: 3).Model.LoadPipeline(stream, out _);
        CollectionAssert.AreEqual(first, loaded.Transform(data).GetColumn<string>("Completion").Take(20).ToArray());
        var refused = Assert.ThrowsExactly<NotSupportedException>(() => model.ExportOnnx(Path.Combine(Path.GetTempPath(), "never-written")));
        StringAssert.Contains(refused.Message, "TextGenerationTransformer cannot be exported to ONNX");
    }

    [TestMethod]
    public void MissingSourceColumnNamesTheOption()
    {
        var mlContext = new MLContext(seed: 1);
        var data = mlContext.Data.LoadFromEnumerable(ShortTatoebaPairs(5));
        var estimator = mlContext.Transforms.Text.TrainTranslator(sourceColumnName: "Spanish");
        var error = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => estimator.Fit(data));
        StringAssert.Contains(error.Message, "'Spanish' (SourceColumnName)");
    }
}
