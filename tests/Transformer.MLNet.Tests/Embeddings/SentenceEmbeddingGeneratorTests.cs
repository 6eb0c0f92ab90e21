using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.ML;
using Microsoft.ML.Data;
using Transformer.MLNet.Embeddings;
using Transformer.MLNet.Examples.Data;
using Transformer.MLNet.Serving;

namespace Transformer.MLNet.Tests.Embeddings;

[TestClass]
public sealed class SentenceEmbeddingGeneratorTests
{
    private static MLContext mlContext = null!;
    private static List<string> sentences = null!;
    private static SentenceEmbeddingTransformer transformer = null!;

    [ClassInitialize]
    public static void Initialize(TestContext context)
    {
        mlContext = new MLContext(seed: 0);
        sentences = StsBenchmark.Read("test").SelectMany(p => new[] { p.Sentence1, p.Sentence2 }).ToList();
        transformer = mlContext.Transforms.Text.ApplySentenceEmbedding("Features", nameof(TextRow.Text))
            .Fit(mlContext.Data.LoadFromEnumerable(new[] { new TextRow() }));
    }

    [ClassCleanup]
    public static void Cleanup() => transformer?.Dispose();

    [TestMethod]
    public async Task Vectors_equal_ApplySentenceEmbedding_on_every_STS_B_test_sentence()
    {
        var data = mlContext.Data.LoadFromEnumerable(sentences.Select(s => new TextRow { Text = s }).ToList());
        var expected = transformer.Transform(data).GetColumn<float[]>("Features").ToList();

        using var generator = new SentenceEmbeddingGenerator(transformer);
        var generated = await generator.GenerateAsync(sentences, cancellationToken: TestContext.CancellationToken);

        Assert.HasCount(2758, sentences);
        Assert.HasCount(sentences.Count, generated);
        double worst = 0;
        for (int i = 0; i < sentences.Count; i++)
        {
            var vector = generated[i].Vector.Span;
            Assert.AreEqual(expected[i].Length, vector.Length);
            for (int d = 0; d < vector.Length; d++)
                worst = Math.Max(worst, Math.Abs(vector[d] - expected[i][d]));
        }

        TestContext.WriteLine($"max |delta| over {sentences.Count} sentences: {worst:G3}");
        Assert.IsLessThanOrEqualTo(1e-6, worst);
    }

    [TestMethod]
    public async Task Metadata_services_and_options_are_reported_and_checked()
    {
        using var generator = new SentenceEmbeddingGenerator(transformer, modelId: "all-MiniLM-L6-v2");
        IEmbeddingGenerator<string, Embedding<float>> abstraction = generator;

        var metadata = abstraction.GetService<EmbeddingGeneratorMetadata>();
        Assert.IsNotNull(metadata);
        Assert.AreEqual("Transformer.MLNet", metadata.ProviderName);
        Assert.AreEqual("all-MiniLM-L6-v2", metadata.DefaultModelId);
        Assert.AreEqual(384, metadata.DefaultModelDimensions);
        Assert.AreSame(generator, abstraction.GetService<SentenceEmbeddingGenerator>());
        Assert.AreSame(transformer, abstraction.GetService<SentenceEmbeddingTransformer>());
        Assert.IsNull(abstraction.GetService(typeof(EmbeddingGeneratorMetadata), serviceKey: "other"));
        Assert.IsNull(abstraction.GetService<MLContext>());

        var one = await abstraction.GenerateAsync(["A man is playing a guitar.", ""],
            new EmbeddingGenerationOptions { Dimensions = 384, ModelId = "all-MiniLM-L6-v2" }, TestContext.CancellationToken);
        Assert.HasCount(2, one);
        Assert.AreEqual("all-MiniLM-L6-v2", one[0].ModelId);
        Assert.AreEqual(384, one[1].Dimensions, "an empty text is embedded too");
        Assert.AreEqual(1.0, Math.Sqrt(one[0].Vector.ToArray().Sum(v => (double)v * v)), 1e-5, "normalised");
        Assert.IsEmpty(await abstraction.GenerateAsync([], cancellationToken: TestContext.CancellationToken));

        var wrongSize = await Assert.ThrowsExactlyAsync<ArgumentException>(() =>
            abstraction.GenerateAsync(["x"], new EmbeddingGenerationOptions { Dimensions = 128 }, TestContext.CancellationToken));
        StringAssert.Contains(wrongSize.Message, "384");
        var wrongModel = await Assert.ThrowsExactlyAsync<ArgumentException>(() =>
            abstraction.GenerateAsync(["x"], new EmbeddingGenerationOptions { ModelId = "text-embedding-3-small" }, TestContext.CancellationToken));
        StringAssert.Contains(wrongModel.Message, "all-MiniLM-L6-v2");
        var nullText = await Assert.ThrowsExactlyAsync<ArgumentException>(() =>
            abstraction.GenerateAsync(["fine", null!], cancellationToken: TestContext.CancellationToken));
        StringAssert.Contains(nullText.Message, "Text 1");
    }

    [TestMethod]
    public async Task Cancellation_stops_a_call_waiting_for_the_gate_and_takes_no_slot()
    {
        using var gate = new ForwardPassGate();
        using var generator = new SentenceEmbeddingGenerator(transformer, gate: gate);
        using var cancelled = new CancellationTokenSource();
        await cancelled.CancelAsync();
        await Assert.ThrowsAsync<OperationCanceledException>(() => generator.GenerateAsync(["never encoded"], cancellationToken: cancelled.Token));

        var held = await gate.EnterAsync(TestContext.CancellationToken);
        using var soon = new CancellationTokenSource(TimeSpan.FromMilliseconds(200));
        var waiting = generator.GenerateAsync(["waits for the gate"], cancellationToken: soon.Token);
        await Assert.ThrowsAsync<OperationCanceledException>(() => waiting);
        Assert.AreEqual(1, gate.ActivePasses, "only the slot held by the test");
        Assert.AreEqual(0, gate.WaitingCallers);
        held.Dispose();
        Assert.AreEqual(0, gate.ActivePasses);
        Assert.HasCount(1, await generator.GenerateAsync(["runs once the gate is free"], cancellationToken: TestContext.CancellationToken));
    }

    [TestMethod]
    public async Task Disposing_the_gate_wakes_its_waiting_callers_and_takes_back_the_slots_in_use()
    {
        var gate = new ForwardPassGate();
        var held = await gate.EnterAsync(TestContext.CancellationToken);
        var waiting = gate.EnterAsync(TestContext.CancellationToken).AsTask();
        Assert.AreEqual(1, gate.WaitingCallers);
        gate.Dispose();
        var error = await Assert.ThrowsAsync<ObjectDisposedException>(() => waiting.WaitAsync(TimeSpan.FromSeconds(10), TestContext.CancellationToken));
        StringAssert.Contains(error.Message, "disposed while this caller waited");
        Assert.AreEqual(0, gate.WaitingCallers);
        held.Dispose();   // a pass that was running when the gate went gives its slot back without an error
        Assert.AreEqual(0, gate.ActivePasses);
        await Assert.ThrowsAsync<ObjectDisposedException>(() => gate.EnterAsync(TestContext.CancellationToken).AsTask());
    }

    [TestMethod]
    public async Task Concurrent_callers_get_the_vectors_of_sequential_calls()
    {
        var texts = sentences.Take(48).ToList();
        using var generator = new SentenceEmbeddingGenerator(transformer);
        var sequential = new List<float[]>();
        for (int i = 0; i < 6; i++)
            sequential.AddRange((await generator.GenerateAsync(texts.Skip(i * 8).Take(8), cancellationToken: TestContext.CancellationToken)).Select(e => e.Vector.ToArray()));

        var parallel = await Task.WhenAll(Enumerable.Range(0, 6).Select(i =>
            Task.Run(() => generator.GenerateAsync(texts.Skip(i * 8).Take(8).ToList(), cancellationToken: TestContext.CancellationToken))));
        var flat = parallel.SelectMany(g => g.Select(e => e.Vector.ToArray())).ToList();
        for (int i = 0; i < texts.Count; i++)
            CollectionAssert.AreEqual(sequential[i], flat[i], $"text {i}");
    }

    [TestMethod]
    public async Task Dependency_injection_serves_one_generator_under_the_abstraction_and_disposes_it()
    {
        var services = new ServiceCollection();
        services.AddSingleton(new ForwardPassGate(maxConcurrentPasses: 2));
        services.AddSentenceEmbeddingGenerator(_ => transformer, modelId: "from-di");
        SentenceEmbeddingGenerator concrete;
        await using (var provider = services.BuildServiceProvider())
        {
            var generator = provider.GetRequiredService<IEmbeddingGenerator<string, Embedding<float>>>();
            concrete = provider.GetRequiredService<SentenceEmbeddingGenerator>();
            Assert.AreSame(concrete, generator);
            Assert.AreEqual("from-di", generator.GetService<EmbeddingGeneratorMetadata>()!.DefaultModelId);
            Assert.HasCount(1, await generator.GenerateAsync(["hello"], cancellationToken: TestContext.CancellationToken));
        }

        await Assert.ThrowsExactlyAsync<ObjectDisposedException>(() => concrete.GenerateAsync(["after disposal"]));
        Assert.HasCount(1, transformer.Transform(mlContext.Data.LoadFromEnumerable(new[] { new TextRow { Text = "still usable" } }))
            .GetColumn<float[]>("Features").ToList(), "the transformer stays its owner's");
        Assert.Throws<ArgumentOutOfRangeException>(() => services.AddSentenceEmbeddingGenerator(new SentenceEmbeddingOptions { InferenceBatchSize = 0 }));
    }

    public TestContext TestContext { get; set; } = null!;

    private sealed class TextRow
    {
        public string Text { get; set; } = "";
    }
}
