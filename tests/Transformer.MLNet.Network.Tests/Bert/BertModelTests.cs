using TorchSharp;
using Transformer.MLNet.Network.Bert;
using Transformer.MLNet.Network.Configuration;
using static TorchSharp.torch;

namespace Transformer.MLNet.Network.Tests.Bert;

[TestClass]
public sealed class BertModelTests
{
    private static readonly TransformerConfig Small = TransformerConfig.MiniLmL6 with
    {
        Name = "test", VocabSize = 50, ModelDim = 32, Heads = 4, FeedForwardDim = 64, EncoderLayers = 2, MaxPositions = 16, Dropout = 0,
    };

    [TestMethod]
    public void State_dict_names_and_shapes_are_hugging_faces()
    {
        using var model = new BertModel(Small);
        var shapes = model.state_dict().ToDictionary(kv => kv.Key, kv => string.Join("x", kv.Value.shape));
        var expected = new Dictionary<string, string>
        {
            ["embeddings.word_embeddings.weight"] = "50x32",
            ["embeddings.position_embeddings.weight"] = "16x32",
            ["embeddings.token_type_embeddings.weight"] = "2x32",
            ["embeddings.LayerNorm.weight"] = "32",
            ["embeddings.LayerNorm.bias"] = "32",
            ["pooler.dense.weight"] = "32x32",
            ["pooler.dense.bias"] = "32",
        };
        for (int i = 0; i < 2; i++)
        {
            foreach (var p in new[] { "query", "key", "value" })
            {
                expected[$"encoder.layer.{i}.attention.self.{p}.weight"] = "32x32";
                expected[$"encoder.layer.{i}.attention.self.{p}.bias"] = "32";
            }

            expected[$"encoder.layer.{i}.attention.output.dense.weight"] = "32x32";
            expected[$"encoder.layer.{i}.attention.output.dense.bias"] = "32";
            expected[$"encoder.layer.{i}.attention.output.LayerNorm.weight"] = "32";
            expected[$"encoder.layer.{i}.attention.output.LayerNorm.bias"] = "32";
            expected[$"encoder.layer.{i}.intermediate.dense.weight"] = "64x32";
            expected[$"encoder.layer.{i}.intermediate.dense.bias"] = "64";
            expected[$"encoder.layer.{i}.output.dense.weight"] = "32x64";
            expected[$"encoder.layer.{i}.output.dense.bias"] = "32";
            expected[$"encoder.layer.{i}.output.LayerNorm.weight"] = "32";
            expected[$"encoder.layer.{i}.output.LayerNorm.bias"] = "32";
        }

        CollectionAssert.AreEquivalent(expected.ToList(), shapes.ToList());
    }

    [TestMethod]
    public void Fused_attention_equals_explicit_softmax_attention_with_a_padding_mask()
    {
        using var scope = NewDisposeScope();
        manual_seed(7);
        var attention = new BertSelfAttention(Small);
        attention.eval();
        var hidden = randn(2, 5, 32);
        var mask = tensor(new long[] { 1, 1, 1, 1, 1, 1, 1, 1, 0, 0 }, [2, 5]);
        var fused = attention.forward(hidden, mask.ne(0).unsqueeze(1).unsqueeze(1));

        // Reference: softmax(q kᵀ / √d + (mask - 1) · ∞) v, written out.
        var parameters = attention.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        Tensor Heads(string name) => nn.functional.linear(hidden, parameters[$"{name}.weight"], parameters[$"{name}.bias"])
            .view(2, 5, 4, 8).transpose(1, 2);                                                   // (B, h, T, d)
        var scores = Heads("query").matmul(Heads("key").transpose(-2, -1)) / Math.Sqrt(8);      // (B, h, T, T)
        scores = scores.masked_fill(mask.eq(0).unsqueeze(1).unsqueeze(1), float.NegativeInfinity);
        var explicitResult = scores.softmax(-1).matmul(Heads("value")).transpose(1, 2).reshape(2, 5, 32);

        double maxDiff = (fused - explicitResult).abs().max().item<float>();
        Assert.IsLessThan(1e-6, maxDiff);
    }

    [TestMethod]
    public void Padding_does_not_change_the_real_tokens_outputs()
    {
        using var scope = NewDisposeScope();
        manual_seed(3);
        using var model = new BertModel(Small);
        model.eval();
        var ids = tensor(new long[] { 2, 7, 9, 3 }, [1, 4]);
        var alone = model.forward(ids, ones([1, 4], ScalarType.Int64), zeros([1, 4], ScalarType.Int64));
        var padded = model.forward(tensor(new long[] { 2, 7, 9, 3, 0, 0, 0 }, [1, 7]),
            tensor(new long[] { 1, 1, 1, 1, 0, 0, 0 }, [1, 7]), zeros([1, 7], ScalarType.Int64));
        double maxDiff = (alone - padded.narrow(1, 0, 4)).abs().max().item<float>();
        Assert.IsLessThan(1e-5, maxDiff);
    }

    [TestMethod]
    public void Inference_without_the_padding_gives_the_real_tokens_states_and_zeros_elsewhere()
    {
        if (!Transformer.MLNet.Network.Kernels.PackedAttention.TakesSegments(ScalarType.Float32, Small.ModelDim, Small.Heads, 16))
            Assert.Inconclusive("This CPU has no AVX2/FMA: the attention kernel that rows without padding need is not used here.");
        using var scope = NewDisposeScope();
        manual_seed(5);
        using var model = new BertModel(Small);
        model.eval();
        int[] lengths = [7, 1, 4, 7, 2];
        var ids = randint(4, 50, [5, 7], dtype: ScalarType.Int64);
        var mask = zeros([5, 7], ScalarType.Int64);
        for (int r = 0; r < lengths.Length; r++)
            mask[r, ..lengths[r]] = tensor(1L);
        ids = ids * mask;
        var types = zeros_like(ids);
        foreach (var type in new[] { ScalarType.Float32, ScalarType.BFloat16 })
        {
            model.to(type);
            using var inference = inference_mode();
            var expected = model.forward(ids, mask, types).to(ScalarType.Float32);
            var actual = model.ForwardUnpadded(ids, lengths, types);
            Assert.IsNotNull(actual, type.ToString());
            CollectionAssert.AreEqual(expected.shape, actual.shape);
            var real = mask.unsqueeze(-1).to(ScalarType.Float32);
            double atPadding = (actual.to(ScalarType.Float32) * (1 - real)).abs().max().item<float>();
            Assert.AreEqual(0.0, atPadding, $"{type}: zeros at the padding");
            double difference = ((actual.to(ScalarType.Float32) - expected) * real).abs().max().item<float>();
            // float32: the same arithmetic row by row; bfloat16: the products' rows may be blocked differently.
            Assert.IsLessThanOrEqualTo(type == ScalarType.Float32 ? 1e-5 : 0.05, difference, $"{type}: the real tokens' states");
        }

        model.to(ScalarType.Float32);
        using (var inference = inference_mode())
        {
            Assert.IsNull(model.ForwardUnpadded(ids, [7, 1, 4, 7], types), "a length per row");
            Assert.IsNull(model.ForwardUnpadded(ids, [7, 0, 4, 7, 2], types), "an empty row");
            Assert.IsNull(model.ForwardUnpadded(ids, [8, 1, 4, 7, 2], types), "a row longer than the batch");
            model.train();
            Assert.IsNull(model.ForwardUnpadded(ids, lengths, types), "training");
            model.eval();
        }

        Assert.IsNull(model.ForwardUnpadded(ids, lengths, types), "gradients recorded");
    }

    [TestMethod]
    public void Bad_configs_and_inputs_fail_with_clear_messages()
    {
        var sinusoidal = Assert.ThrowsExactly<ArgumentException>(() => new BertModel(Small with { PositionalEncoding = PositionalEncodingKind.Sinusoidal }));
        StringAssert.Contains(sinusoidal.Message, "PositionalEncoding");
        using var model = new BertModel(Small);
        using var scope = NewDisposeScope();
        var tooLong = Assert.ThrowsExactly<ArgumentException>(() => model.forward(zeros([1, 17], ScalarType.Int64), ones([1, 17], ScalarType.Int64), zeros([1, 17], ScalarType.Int64)));
        StringAssert.Contains(tooLong.Message, "MaxPositions");
        var shapes = Assert.ThrowsExactly<ArgumentException>(() => model.forward(zeros([1, 4], ScalarType.Int64), ones([1, 3], ScalarType.Int64), zeros([1, 4], ScalarType.Int64)));
        StringAssert.Contains(shapes.Message, "one shape");
    }
}
