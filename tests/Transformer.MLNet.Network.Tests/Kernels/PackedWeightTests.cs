using TorchSharp;
using Transformer.MLNet.Network.Bert;
using Transformer.MLNet.Network.Classification;
using Transformer.MLNet.Network.Embeddings;
using Transformer.MLNet.Network.Kernels;
using Transformer.MLNet.Network.Pretrained;
using Transformer.MLNet.Network.Tests.Pretrained;
using Transformer.MLNet.Network.Tests.Reliability;
using Transformer.MLNet.Network.TokenClassification;
using Transformer.MLNet.Network.Training;
using static TorchSharp.torch;

namespace Transformer.MLNet.Network.Tests.Kernels;

/// <summary>
/// Projection weights packed once for inference: the 256-bit kernel against libtorch's <c>nn.functional.linear</c>, and
/// the sentence encoder with packed weights against the same encoder without them.
/// </summary>
[TestClass]
public sealed unsafe class PackedWeightTests
{
    [TestInitialize]
    public void RequireKernel()
    {
        if (!PackedWeight.Supported)
            Assert.Inconclusive("This CPU has no AVX2/FMA: the packed kernel is not used here.");
    }

    [TestCleanup]
    public void ResetChoice()
    {
        InferenceWeights.Override = null;
        InferenceWeights.MaxPackedFloats = InferenceWeights.DefaultMaxPackedFloats;
        FusedLinear.Override = null;
    }

    [TestMethod]
    public void Products_of_stacked_weights_and_edge_sizes_match_functional_linear()
    {
        using var scope = NewDisposeScope();
        var generator = new Generator(11);
        // Rows around the micro-tile (6) and beyond one row block (96); outputs around a panel (16); inputs within one
        // inner block and beyond one and two (1536).
        int[] rowCounts = [1, 5, 6, 7, 97, 200], outputCounts = [16, 17, 40], inputCounts = [64, 385, PackedWeight.KC + 1, 2 * PackedWeight.KC + 29];
        int cases = 0;
        foreach (int rows in rowCounts)
            foreach (int outputs in outputCounts)
                foreach (int inputs in inputCounts)
                {
                    using var caseScope = NewDisposeScope();
                    int parts = 1 + cases % 3;
                    var weights = Enumerable.Range(0, parts).Select(p => randn([outputs + p, inputs], generator: generator)).ToArray();
                    // Every third stack has no bias on its first part.
                    var biases = Enumerable.Range(0, parts).Select(p => p == 0 && cases % 3 == 2 ? null : randn([outputs + p], generator: generator)).ToArray();
                    var x = randn([rows, inputs], generator: generator);
                    var expected = nn.functional.linear(x, cat(weights, 0),
                        cat(biases.Select((b, p) => b ?? zeros(outputs + p)).ToArray(), 0));
                    using var pack = PackedWeight.Create(weights, biases);
                    Assert.AreEqual((int)expected.shape[1], pack.Outputs);
                    int threads = cases % 2 + 1;
                    var actual = empty(rows, pack.Outputs);
                    pack.Multiply(rows, TensorMemory.Floats(x), inputs, TensorMemory.Floats(actual), pack.Outputs, threads);
                    GemmTests.AssertClose(expected, actual, inputs, $"rows={rows} outputs={outputs} inputs={inputs} parts={parts} threads={threads}");
                    cases++;
                }
        Assert.AreEqual(rowCounts.Length * outputCounts.Length * inputCounts.Length, cases);
    }

    [TestMethod]
    public void Forward_keeps_leading_dimensions_and_reads_non_contiguous_inputs()
    {
        using var scope = NewDisposeScope();
        var generator = new Generator(12);
        var weight = randn([48, 96], generator: generator);
        var bias = randn([48], generator: generator);
        var x = randn([3, 96, 7], generator: generator).transpose(1, 2);   // (3, 7, 96), not contiguous
        using var pack = PackedWeight.Create([weight], [bias]);
        Assert.IsTrue(pack.Accepts(x));
        var actual = pack.Forward(x);
        CollectionAssert.AreEqual(new long[] { 3, 7, 48 }, actual.shape);
        GemmTests.AssertClose(nn.functional.linear(x, weight, bias), actual, 96, "3-D input");
        Assert.IsFalse(pack.Accepts(randn(4, 95)), "another input width");
        Assert.IsFalse(pack.Accepts(randn(4, 96).to(ScalarType.Float64)), "another dtype");
    }

    [TestMethod]
    public void Lookups_match_the_exact_weights_and_biases_and_only_without_autograd()
    {
        using var scope = NewDisposeScope();
        using var layer = nn.Linear(128, 64);
        using var other = nn.Linear(128, 64);
        using var model = nn.Sequential(("first", layer), ("second", nn.ReLU()));
        InferenceWeights.Override = true;
        using var weights = InferenceWeights.For(model);
        Assert.IsNotNull(weights);
        Assert.AreEqual(1, weights.Count);
        var x = randn(40, 128);

        using (torch.no_grad())
        {
            Assert.IsNull(InferenceWeights.Find([layer.weight!], [layer.bias]), "outside Use()");
            using (weights.Use())
            {
                Assert.IsNotNull(InferenceWeights.Find([layer.weight!], [layer.bias]));
                Assert.IsNull(InferenceWeights.Find([layer.weight!], [other.bias]), "another bias");
                Assert.IsNull(InferenceWeights.Find([other.weight!], [other.bias]), "another weight");
                long before = PackedWeight.ForwardCount;
                var packed = Projection.Linear(x, layer.weight!, layer.bias);
                Assert.AreEqual(before + 1, PackedWeight.ForwardCount, "the projection took the packed copy");
                GemmTests.AssertClose(nn.functional.linear(x, layer.weight!, layer.bias), packed, 128, "packed projection");
            }
            Assert.IsNull(InferenceWeights.Find([layer.weight!], [layer.bias]), "after Use() ended");
        }
        using (weights.Use())
            Assert.IsNull(InferenceWeights.Find([layer.weight!], [layer.bias]), "with autograd on, gradients need libtorch's path");

        InferenceWeights.Override = false;
        Assert.IsNull(InferenceWeights.For(model), "packing switched off");
    }

    [TestMethod]
    public void Query_key_value_stacks_that_are_not_packed_are_concatenated_once_per_pass()
    {
        // Where bfloat16 stacks are not reordered for the fused product either (that path has its own test).
        FusedLinear.Override = false;
        using var scope = NewDisposeScope();
        using var model = new BertModel(Configuration.TransformerConfig.MiniLmL6 with { EncoderLayers = 2, VocabSize = 200 });
        model.to(ScalarType.BFloat16).eval();
        var attentions = model.modules().OfType<BertSelfAttention>().ToList();
        Assert.HasCount(2, attentions);
        var ids = randint(200, [3, 9], dtype: ScalarType.Int64, generator: new Generator(7));
        var mask = ones_like(ids);
        mask[1, 5..] = tensor(0L);
        var types = zeros_like(ids);
        foreach (bool packing in new[] { true, false })
        {
            InferenceWeights.Override = packing;
            using var weights = InferenceWeights.For(model);
            Assert.IsNotNull(weights, $"packing {packing}");
            Assert.AreEqual(0, weights.Count, "bfloat16 weights are not packed");
            using var inference = inference_mode();
            var expected = model.forward(ids, mask, types);
            Tensor actual;
            using (weights.Use())
            {
                var (query, key, value) = attentions[1].Projections;
                var stack = InferenceWeights.FindStack([query.weight!, key.weight!, value.weight!], [query.bias, key.bias, value.bias]);
                Assert.IsNotNull(stack);
                Assert.IsTrue(stack.Value.Weight.equal(cat([query.weight!, key.weight!, value.weight!], 0)).all().item<bool>());
                Assert.IsNull(InferenceWeights.FindStack([key.weight!, query.weight!, value.weight!], [key.bias, query.bias, value.bias]), "another order");
                actual = model.forward(ids, mask, types);
            }
            Assert.IsTrue(expected.bytes.SequenceEqual(actual.bytes), "the same product with the weights concatenated once");
        }
    }

    [TestMethod]
    public void Packing_stops_at_its_memory_budget_and_the_rest_stays_with_libtorch()
    {
        using var scope = NewDisposeScope();
        using var first = nn.Linear(128, 128);
        using var second = nn.Linear(128, 128);
        using var model = nn.Sequential(("first", first), ("second", second));
        InferenceWeights.Override = true;
        InferenceWeights.MaxPackedFloats = 128 * 128 + 100;   // room for one of the two weights
        using var weights = InferenceWeights.For(model);
        Assert.IsNotNull(weights);
        Assert.AreEqual(1, weights.Count);
        var x = randn(40, 128);
        using (torch.no_grad())
        using (weights.Use())
        {
            Assert.IsNotNull(InferenceWeights.Find([first.weight!], [first.bias]));
            Assert.IsNull(InferenceWeights.Find([second.weight!], [second.bias]), "beyond the budget");
            long before = PackedWeight.ForwardCount;
            var y = Projection.Linear(Projection.Linear(x, first.weight!, first.bias), second.weight!, second.bias);
            Assert.AreEqual(before + 1, PackedWeight.ForwardCount, "one packed product, one by libtorch");
            GemmTests.AssertClose(nn.functional.linear(nn.functional.linear(x, first.weight!, first.bias), second.weight!, second.bias), y, 128, "mixed packed and libtorch projections");
        }
    }

    [TestMethod]
    public void Encoder_with_packed_weights_gives_the_same_embeddings_as_without()
    {
        var sentences = MiniLmFixture.Sentences.Take(300).ToArray();
        using var encoder = SentenceEncoder.FromPretrained(MiniLmFixture.Model, new SentenceEncoderOptions { BatchSize = 32, Threads = 2 });
        InferenceWeights.Override = false;
        long before = PackedWeight.ForwardCount;
        var reference = encoder.Encode(sentences);
        Assert.AreEqual(before, PackedWeight.ForwardCount, "packing off: libtorch's products only");

        InferenceWeights.Override = true;
        var packed = encoder.Encode(sentences);
        // 10 batches × 6 layers × (query/key/value, attention output, intermediate, output) at least.
        Assert.IsGreaterThanOrEqualTo(before + 10 * 6 * 4, PackedWeight.ForwardCount, "packing on: packed products");
        AssertRowsClose(reference, packed, 2e-5, "packed vs libtorch");
    }

    [TestMethod]
    public void A_shared_model_changed_between_calls_is_packed_again()
    {
        var sentences = MiniLmFixture.Sentences.Take(100).ToArray();
        using var model = PretrainedBert.LoadMiniLm();   // its own copy: the weights are changed below
        using var encoder = SentenceEncoder.FromPretrained(model, new SentenceEncoderOptions { BatchSize = 16, Threads = 1 });
        InferenceWeights.Override = true;
        var first = encoder.Encode(sentences);

        using (torch.no_grad())
        {
            foreach (var (name, parameter) in model.Model.named_parameters())
            {
                if (name.EndsWith("intermediate.dense.weight", StringComparison.Ordinal))
                    parameter.mul_(1.5);   // what a fine-tuning step on the shared model does: in place
            }
        }
        var packedAfter = encoder.Encode(sentences);
        InferenceWeights.Override = false;
        var libtorchAfter = encoder.Encode(sentences);

        AssertRowsClose(libtorchAfter, packedAfter, 2e-5, "after the change, packed vs libtorch");
        double change = first.Zip(libtorchAfter).Max(p => p.First.Zip(p.Second).Max(v => Math.Abs(v.First - v.Second)));
        Assert.IsGreaterThan(1e-3, change, "the change moved the embeddings (so the comparison above can tell stale weights)");
    }

    [TestMethod]
    public void Classifier_predictions_over_several_batches_take_the_packed_path_with_the_same_logits()
    {
        var (texts, _) = TinyClassifiers.Sentences("yelp", 100);
        var tokenizer = TinyClassifiers.Tokenizer;
        // MiniLM's layer shapes (384 wide), one layer, random weights: the projections qualify for packing.
        var config = TinyClassifiers.Config with { ModelDim = 384, Heads = 12, FeedForwardDim = 1536 };
        Seeding.Apply(21);
        using var classifier = TextClassifier.Create(new BertModel(config), tokenizer,
            new TextClassifierSettings(3, 48, 0.1));
        Seeding.Apply(22);
        using var tagger = TokenClassifier.Create(new BertModel(config), tokenizer,
            new TokenClassifierSettings(["O", "B-PER", "I-PER"], 48, 0.1));
        var sentences = texts.Select(t => (IReadOnlyList<string>)t.Split(' ', StringSplitOptions.RemoveEmptyEntries)).ToArray();

        InferenceWeights.Override = false;
        long before = PackedWeight.ForwardCount;
        var reference = classifier.PredictLogits(texts, batchSize: 16);
        var referenceTags = tagger.Predict(sentences, batchSize: 16);
        Assert.AreEqual(before, PackedWeight.ForwardCount, "packing off");

        InferenceWeights.Override = true;
        var packed = classifier.PredictLogits(texts, batchSize: 16);
        Assert.IsGreaterThanOrEqualTo(before + 7 * 4, PackedWeight.ForwardCount, "7 batches × 4 packed products at least");
        long afterClassifier = PackedWeight.ForwardCount;
        var packedTags = tagger.Predict(sentences, batchSize: 16);
        Assert.IsGreaterThanOrEqualTo(afterClassifier + 7 * 4, PackedWeight.ForwardCount, "the token classifier too");

        AssertRowsClose(reference, packed, 1e-4, "classifier logits, packed vs libtorch");
        // Probabilities of the chosen tags (compared rather than the tags: a random model's near-ties could flip).
        AssertRowsClose([.. referenceTags.Select(t => t.Probabilities)], [.. packedTags.Select(t => t.Probabilities)], 1e-4,
            "token classifier probabilities, packed vs libtorch");
    }

    [TestMethod]
    public void Live_tensors_return_to_baseline_after_packed_passes()
    {
        using var encoder = SentenceEncoder.FromPretrained(MiniLmFixture.Model, new SentenceEncoderOptions { BatchSize = 4, Threads = 1 });
        var texts = MiniLmFixture.Sentences.Take(12).ToArray();
        InferenceWeights.Override = true;
        int threads = get_num_threads();
        set_num_threads(1);
        try
        {
            encoder.Encode(texts);
            long baseline = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
            long forwards = PackedWeight.ForwardCount;
            for (int i = 0; i < 5; i++)
                encoder.Encode(texts);
            Assert.IsGreaterThan(forwards, PackedWeight.ForwardCount, "the packed path ran");
            Assert.AreEqual(baseline, DisposeScopeManager.Statistics.ThreadTotalLiveCount);
        }
        finally
        {
            set_num_threads(threads);
        }
    }

    private static void AssertRowsClose(float[][] expected, float[][] actual, double tolerance, string what)
    {
        Assert.HasCount(expected.Length, actual);
        double worst = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            Assert.HasCount(expected[i].Length, actual[i], $"{what}: row {i}");
            for (int j = 0; j < expected[i].Length; j++)
                worst = Math.Max(worst, Math.Abs(expected[i][j] - actual[i][j]));
        }
        Assert.IsLessThanOrEqualTo(tolerance, worst, $"{what}: largest difference {worst:E2}");
    }
}
