using Transformer.MLNet.Network.Bert;
using Transformer.MLNet.Network.Configuration;
using Transformer.MLNet.Network.Embeddings;
using Transformer.MLNet.Network.Kernels;
using Transformer.MLNet.Network.Pretrained;
using TorchSharp;
using static TorchSharp.torch;

namespace Transformer.MLNet.Network.Tests.Kernels;

/// <summary>
/// bfloat16 projections with bias and activation in oneDNN's product (through the TorchScript module the kernel writes),
/// against float32 arithmetic of the same bfloat16 values and against libtorch's linear-then-activation path.
/// </summary>
[TestClass]
public sealed class FusedLinearTests
{
    [TestInitialize]
    public void RequireFusedPrimitive()
    {
        if (!FusedLinear.Available)
            Assert.Inconclusive("This CPU or libtorch build does not take the fused bfloat16 projection: libtorch's path is used.");
    }

    [TestCleanup]
    public void ResetChoice()
    {
        FusedLinear.Override = null;
        set_num_threads(Environment.ProcessorCount);
    }

    // GELU or none: the forms the kernel fuses.
    private static Tensor Reference(Tensor x, Tensor weight, Tensor bias, Activation? activation)
    {
        var linear = nn.functional.linear(x.to(ScalarType.Float32), weight.to(ScalarType.Float32), bias.to(ScalarType.Float32));
        return activation switch
        {
            Activation.Gelu => nn.functional.gelu(linear),
            Activation.Relu => nn.functional.relu(linear),
            _ => linear,
        };
    }

    private static Tensor Libtorch(Tensor x, Tensor weight, Tensor bias, Activation? activation)
    {
        var linear = nn.functional.linear(x, weight, bias);
        return activation switch
        {
            Activation.Gelu => nn.functional.gelu(linear),
            Activation.Relu => nn.functional.relu(linear),
            _ => linear,
        };
    }

    [TestMethod]
    public void Every_form_is_float32_arithmetic_of_the_same_values_rounded_once_and_never_worse_than_libtorch()
    {
        using var inference = inference_mode();
        var generator = new Generator(8);
        foreach (var (input, outputs) in new (long[], long)[]
        {
            ([2, 7, 384], 1536), ([1, 1, 64], 16), ([300, 96], 40), ([3, 5, 40], 24), ([4, 33, 1536], 384),
        })
        {
            using var scope = NewDisposeScope();
            long inputs = input[^1];
            var x = (randn(input, generator: generator) * 2).to(ScalarType.BFloat16);
            var weight = (randn([outputs, inputs], generator: generator) / Math.Sqrt(inputs)).to(ScalarType.BFloat16);
            var bias = randn([outputs], generator: generator).to(ScalarType.BFloat16);
            var prepacked = FusedLinear.Prepack(weight, 512);
            Assert.IsNotNull(prepacked, "the reorder of a plain bfloat16 weight");
            foreach (Activation? activation in new Activation?[] { null, Activation.Gelu })
            {
                var expected = Reference(x, weight, bias, activation);
                double theirs = (Libtorch(x, weight, bias, activation).to(ScalarType.Float32) - expected).abs().max().item<float>();
                foreach (var (name, w) in new[] { ("plain", weight), ("prepacked", prepacked) })
                {
                    Assert.IsTrue(FusedLinear.Applies(x, w, bias));
                    var actual = FusedLinear.Forward(x, w, bias, activation);
                    Assert.IsNotNull(actual, $"{name} {activation}");
                    CollectionAssert.AreEqual(expected.shape, actual.shape);
                    Assert.AreEqual(ScalarType.BFloat16, actual.dtype);
                    var difference = (actual.to(ScalarType.Float32) - expected).abs();
                    // One rounding to bfloat16 (2⁻⁹ relative) plus float32 sums of a different order.
                    var excess = (difference - (expected.abs() * Math.Pow(2, -8) + 1e-4)).max().item<float>();
                    string what = $"[{string.Join(", ", input)}] → {outputs}, {name}, {activation?.ToString() ?? "no activation"}";
                    Assert.IsLessThanOrEqualTo(0.0, excess, $"{what}: an output is more than 2⁻⁸ relative from float32 arithmetic");
                    double ours = difference.max().item<float>();
                    Assert.IsLessThanOrEqualTo(theirs * 1.001, ours, $"{what}: ours {ours}, libtorch's linear then activation {theirs}");
                }
            }
        }
    }

    [TestMethod]
    public void Prepacked_weights_serve_any_row_count()
    {
        using var inference = inference_mode();
        using var scope = NewDisposeScope();
        var generator = new Generator(9);
        var weight = (randn([1536, 384], generator: generator) / 20).to(ScalarType.BFloat16);
        var bias = randn([1536], generator: generator).to(ScalarType.BFloat16);
        var prepacked = FusedLinear.Prepack(weight, 512)!;
        foreach (long rows in new long[] { 1, 3, 64, 700, 2048 })
        {
            var x = randn([rows, 384], generator: generator).to(ScalarType.BFloat16);
            var expected = Reference(x, weight, bias, Activation.Gelu);
            var actual = FusedLinear.Forward(x, prepacked, bias, Activation.Gelu)!.to(ScalarType.Float32);
            var excess = ((actual - expected).abs() - (expected.abs() * Math.Pow(2, -8) + 1e-4)).max().item<float>();
            Assert.IsLessThanOrEqualTo(0.0, excess, $"{rows} rows");
        }
    }

    [TestMethod]
    public void Two_threads_sharing_one_prepacked_weight_get_the_bytes_of_one_thread()
    {
        using var inference = inference_mode();
        using var scope = NewDisposeScope();
        var generator = new Generator(10);
        var weight = (randn([1152, 384], generator: generator) / 20).to(ScalarType.BFloat16);
        var bias = randn([1152], generator: generator).to(ScalarType.BFloat16);
        var prepacked = FusedLinear.Prepack(weight, 512)!;
        var inputs = Enumerable.Range(0, 4).Select(i => randn([32, 13 + i, 384], generator: generator).to(ScalarType.BFloat16)).ToArray();
        byte[][] Run(Tensor[] xs)
        {
            set_num_threads(1);
            using var inner = inference_mode();
            return [.. xs.Select(x => { using var y = FusedLinear.Forward(x, prepacked, bias, Activation.Gelu)!; return y.bytes.ToArray(); })];
        }

        byte[][] single = [];
        var alone = new Thread(() => single = Run(inputs));
        alone.Start();
        alone.Join();
        var results = new byte[2][][];
        var threads = Enumerable.Range(0, 2).Select(t => new Thread(() =>
        {
            byte[][] last = [];
            for (int round = 0; round < 10; round++)
                last = Run(inputs);
            results[t] = last;
        })).ToList();
        threads.ForEach(t => t.Start());
        threads.ForEach(t => t.Join());
        for (int t = 0; t < 2; t++)
        {
            for (int i = 0; i < inputs.Length; i++)
                Assert.IsTrue(single[i].AsSpan().SequenceEqual(results[t][i]), $"thread {t}, input {i}");
        }
    }

    [TestMethod]
    public void NaN_and_infinite_inputs_give_libtorchs_NaN_and_infinity_pattern()
    {
        using var inference = inference_mode();
        var generator = new Generator(11);
        foreach (float value in new[] { float.NaN, float.PositiveInfinity, float.NegativeInfinity })
        {
            using var scope = NewDisposeScope();
            var x = randn([3, 4, 64], generator: generator);
            x[1, 2, 5] = tensor(value);
            var xb = x.to(ScalarType.BFloat16);
            var weight = (randn([48, 64], generator: generator) / 8).to(ScalarType.BFloat16);
            weight[7] = zeros(64).to(ScalarType.BFloat16);   // 0 · ∞ is NaN
            var bias = randn([48], generator: generator).to(ScalarType.BFloat16);
            foreach (Activation? activation in new Activation?[] { null, Activation.Gelu })
            {
                var expected = Libtorch(xb, weight, bias, activation).to(ScalarType.Float32);
                var actual = FusedLinear.Forward(xb, FusedLinear.Prepack(weight, 16)!, bias, activation)!.to(ScalarType.Float32);
                string what = $"{value}, {activation?.ToString() ?? "no activation"}";
                Assert.IsFalse(expected[1, 2].isfinite().any().item<bool>(), $"{what}: libtorch's row");
                Assert.IsTrue(actual.isnan().equal(expected.isnan()).all().item<bool>(), $"{what}: NaN pattern");
                Assert.IsTrue(actual.isposinf().equal(expected.isposinf()).all().item<bool>(), $"{what}: +∞ pattern");
                Assert.IsTrue(actual.isneginf().equal(expected.isneginf()).all().item<bool>(), $"{what}: −∞ pattern");
            }
        }
    }

    [TestMethod]
    public void Calls_it_cannot_take_are_refused()
    {
        using var inference = inference_mode();
        using var scope = NewDisposeScope();
        var x = randn([2, 3, 8]).to(ScalarType.BFloat16);
        var weight = randn([4, 8]).to(ScalarType.BFloat16);
        var bias = randn([4]).to(ScalarType.BFloat16);
        Assert.IsTrue(FusedLinear.Applies(x, weight, bias));
        Assert.IsFalse(FusedLinear.Applies(x.to(ScalarType.Float32), weight, bias), "float32 input");
        Assert.IsFalse(FusedLinear.Applies(x, weight.to(ScalarType.Float32), bias), "float32 weight");
        Assert.IsFalse(FusedLinear.Applies(x, weight, null), "no bias");
        Assert.IsFalse(FusedLinear.Applies(x, weight, randn([5]).to(ScalarType.BFloat16)), "bias of another width");
        Assert.IsFalse(FusedLinear.Applies(randn([2, 3, 9]).to(ScalarType.BFloat16), weight, bias), "inputs of another width");
        Assert.IsFalse(FusedLinear.Applies(randn([8]).to(ScalarType.BFloat16), weight, bias), "a vector");
        FusedLinear.Override = false;
        Assert.IsFalse(FusedLinear.Applies(x, weight, bias), "switched off");
        Assert.IsNull(FusedLinear.Prepack(weight, 8), "switched off");
        Assert.Throws<ArgumentException>(() => FusedLinear.Forward(x, weight, bias, Activation.Gelu));
        FusedLinear.Override = null;
        // oneDNN's ReLU turns NaN into 0, libtorch's keeps it: not fused.
        Assert.Throws<ArgumentOutOfRangeException>(() => FusedLinear.Forward(x, weight, bias, Activation.Relu));
        using (var grad = enable_grad())
        {
            var trained = weight.detach().requires_grad_();
            Assert.IsFalse(FusedLinear.Applies(x, trained, bias), "a weight that needs its gradient");
        }
    }

    [TestMethod]
    public void A_pass_reorders_each_bfloat16_projection_once_and_lookups_match_only_the_exact_stack()
    {
        using var scope = NewDisposeScope();
        using var model = new BertModel(TransformerConfig.MiniLmL6 with { EncoderLayers = 2, VocabSize = 200 });
        model.to(ScalarType.BFloat16).eval();
        var attention = model.modules().OfType<BertSelfAttention>().Last();
        var (query, key, value) = attention.Projections;
        var ids = randint(200, [3, 9], dtype: ScalarType.Int64, generator: new Generator(7));
        var mask = ones_like(ids);
        mask[1, 5..] = tensor(0L);
        var types = zeros_like(ids);
        using var inference = inference_mode();
        var expected = model.forward(ids, mask, types).to(ScalarType.Float32);
        using var weights = InferenceWeights.For(model);
        Assert.IsNotNull(weights);
        Tensor actual;
        long before = FusedLinear.Calls;
        using (weights.Use())
        {
            var stack = InferenceWeights.FindBlocked([query.weight!, key.weight!, value.weight!], [query.bias, key.bias, value.bias]);
            Assert.IsNotNull(stack, "query, key and value as one reordered stack");
            Assert.IsTrue(stack.Value.Bias.equal(cat([query.bias!, key.bias!, value.bias!], 0)).all().item<bool>(), "the stacked bias");
            Assert.IsNull(InferenceWeights.FindBlocked([key.weight!, query.weight!, value.weight!], [key.bias, query.bias, value.bias]), "another order");
            Assert.IsNull(InferenceWeights.FindBlocked([query.weight!], [query.bias]), "the query alone");
            Assert.IsNull(InferenceWeights.FindStack([query.weight!, key.weight!, value.weight!], [query.bias, key.bias, value.bias]), "no concatenated copy as well");
            actual = model.forward(ids, mask, types).to(ScalarType.Float32);
        }

        // Two layers: the stacked query/key/value, the attention output, the feed-forward in (with GELU) and out.
        Assert.AreEqual(2 * 4, FusedLinear.Calls - before, "fused calls");
        using var outside = model.forward(ids, mask, types);
        Assert.AreEqual(2 * 4, FusedLinear.Calls - before, "none once the pass is left");
        double cosine = nn.functional.cosine_similarity(actual.flatten(1), expected.flatten(1), 1).min().item<float>();
        Assert.IsGreaterThan(0.999, cosine, "the pass with reordered weights against libtorch's bfloat16 path");
    }

    [TestMethod]
    public void MiniLM_bfloat16_embeddings_take_the_fused_projections_and_stay_with_float32()
    {
        using var bert = PretrainedBert.LoadMiniLm();
        string[] texts =
        [
            "A man is playing a guitar.", "The new movie is awesome.", "Stocks fell sharply on Monday amid fears of a slowdown.",
            "¿Dónde está la estación de tren?", "Der schnelle braune Fuchs springt über den faulen Hund.",
            "A cat sits on the mat.", "Quantum computers use qubits.", "I ❤️ emoji 🙂 in text", "short",
            "An extremely long sentence that keeps going with many words so that the batch has a longer row than the others do.",
        ];
        float[][] Encode(bool bfloat16, bool? fused)
        {
            FusedLinear.Override = fused;
            using var encoder = SentenceEncoder.FromPretrained(bert, new SentenceEncoderOptions { BatchSize = 4, UseBFloat16 = bfloat16 }, CPU);
            return encoder.Encode(texts);
        }

        var reference = Encode(bfloat16: false, fused: null);
        var unfused = Encode(bfloat16: true, fused: false);
        long before = FusedLinear.Calls;
        var fusedEmbeddings = Encode(bfloat16: true, fused: null);
        // Three batches, six layers, four projections each.
        Assert.IsGreaterThanOrEqualTo(3 * 6 * 4, FusedLinear.Calls - before, "fused calls");
        for (int i = 0; i < texts.Length; i++)
        {
            double fusedCosine = EmbeddingSimilarity.Cosine(fusedEmbeddings[i], reference[i]);
            double unfusedCosine = EmbeddingSimilarity.Cosine(unfused[i], reference[i]);
            Assert.IsGreaterThan(0.999, fusedCosine, $"'{texts[i]}': fused bfloat16 against float32");
            Assert.IsGreaterThan(0.999, unfusedCosine, $"'{texts[i]}': libtorch's bfloat16 against float32");
        }
    }
}
