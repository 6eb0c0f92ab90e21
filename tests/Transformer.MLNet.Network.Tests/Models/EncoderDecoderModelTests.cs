using TorchSharp;
using Transformer.MLNet.Network.Configuration;
using Transformer.MLNet.Network.Models;
using Transformer.MLNet.Network.Modules;
using Transformer.MLNet.Network.Training;
using static TorchSharp.torch;

namespace Transformer.MLNet.Network.Tests.Models;

[TestClass]
public sealed class EncoderDecoderModelTests
{
    public TestContext TestContext { get; set; } = null!;

    private static EncoderDecoderModel NewModel(TransformerConfig? config = null)
    {
        Seeding.Apply(21);
        var model = new EncoderDecoderModel(config ?? TransformerConfig.Tiny);
        model.eval();
        return model;
    }

    private static Tensor Tokens(long batch, long length, int seed)
    {
        Seeding.Apply(seed);
        return randint(1, 64, [batch, length], dtype: ScalarType.Int64);   // ids ≥ 1: 0 is padding
    }

    private static double MaxDifference(Tensor a, Tensor b) => (a - b).abs().max().ToDouble();

    [TestMethod]
    public void Appending_padding_never_changes_real_positions()
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        foreach (var config in new[] { TransformerConfig.Tiny, TransformerConfig.Tiny with { PreLayerNorm = true } })
        {
            var model = NewModel(config);
            var source = Tokens(2, 6, 1);
            var target = Tokens(2, 5, 2);
            var padded = cat([source, zeros(2, 4, ScalarType.Int64)], 1);   // (B, 6 + 4), padding id 0

            var memory = model.Encode(source);
            var paddedMemory = model.Encode(padded, model.PaddingMask(padded));
            Assert.IsLessThan(1e-5, MaxDifference(memory, paddedMemory[.., ..6]), "encoder output at real positions");

            var logits = model.Project(model.Decode(target, memory));
            var paddedLogits = model.Project(model.Decode(target, paddedMemory, model.PaddingMask(padded)));
            Assert.IsLessThan(1e-5, MaxDifference(logits, paddedLogits), "decoder output");

            var longerTarget = cat([target, zeros(2, 3, ScalarType.Int64)], 1);
            var longerLogits = model.forward(padded, longerTarget, model.PaddingMask(padded));
            Assert.IsLessThan(1e-5, MaxDifference(logits, longerLogits[.., ..5]), "right-padded target");
        }
    }

    [TestMethod]
    public void Decoder_outputs_never_depend_on_later_target_tokens()
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var model = NewModel();
        var source = Tokens(2, 7, 3);
        var target = Tokens(2, 9, 4);
        var memory = model.Encode(source);
        var reference = model.Project(model.Decode(target, memory));
        for (int t = 0; t < 8; t++)
        {
            var changed = target.clone();
            changed[.., (t + 1)..] = Tokens(2, 8 - t, 100 + t);
            var logits = model.Project(model.Decode(changed, memory));
            Assert.AreEqual(0.0, MaxDifference(reference[.., ..(t + 1)], logits[.., ..(t + 1)]), 1e-6, $"positions ≤ {t}");
            Assert.IsGreaterThan(1e-3, MaxDifference(reference[.., (t + 1)..], logits[.., (t + 1)..]), "later positions do change");
        }
    }

    [TestMethod]
    public void Decoder_depends_on_the_source_only_through_real_tokens()
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var model = NewModel();
        var source = cat([Tokens(2, 5, 5), zeros(2, 2, ScalarType.Int64)], 1);   // two padding positions
        var target = Tokens(2, 4, 6);
        var reference = model.Project(model.Decode(target, model.Encode(source, model.PaddingMask(source)), model.PaddingMask(source)));

        var again = model.Project(model.Decode(target, model.Encode(source, model.PaddingMask(source)), model.PaddingMask(source)));
        Assert.AreEqual(0.0, MaxDifference(reference, again), "same source, same output");

        var otherToken = source.clone();
        otherToken[0, 2] = (otherToken[0, 2] % 63) + 1;
        var changed = model.Project(model.Decode(target, model.Encode(otherToken, model.PaddingMask(otherToken)), model.PaddingMask(otherToken)));
        Assert.IsGreaterThan(1e-3, MaxDifference(reference[0], changed[0]), "a changed source token changes the output");
        Assert.AreEqual(0.0, MaxDifference(reference[1], changed[1]), "other batch rows are untouched");

        // Garbage under the padding mask is invisible.
        var garbage = source.clone();
        garbage[.., 5..] = Tokens(2, 2, 7);
        var padding = model.PaddingMask(source);
        var masked = model.Project(model.Decode(target, model.Encode(garbage, padding), padding));
        Assert.IsLessThan(1e-5, MaxDifference(reference, masked));
    }

    [TestMethod]
    public void Fused_and_explicit_attention_give_the_same_model_outputs()
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var model = NewModel();
        var source = cat([Tokens(2, 6, 8), zeros(2, 2, ScalarType.Int64)], 1);
        var target = Tokens(2, 7, 9);
        var fused = model.forward(source, target, model.PaddingMask(source));
        model.UseFusedAttention(false);
        var explicitLogits = model.forward(source, target, model.PaddingMask(source));
        Assert.IsLessThanOrEqualTo(1e-5, MaxDifference(fused, explicitLogits));
    }

    [TestMethod]
    public void Base_preset_with_a_shared_37k_vocabulary_has_the_papers_65M_parameters()
    {
        using var scope = NewDisposeScope();
        var config = TransformerConfig.Base with { VocabSize = 37_000 };
        var model = new EncoderDecoderModel(config);
        long count = model.ParameterCount();
        TestContext.WriteLine($"Base encoder-decoder, shared 37,000-token vocabulary: {count:N0} parameters (paper, Table 3: 65M)");
        Console.WriteLine($"Base parameters: {count:N0}");
        Assert.IsLessThan(0.05, Math.Abs(count - 65e6) / 65e6);

        // Untying the three embedding matrices adds two V × D tables: proof the count sees the sharing.
        var untied = new EncoderDecoderModel(config with { ShareEncoderDecoderEmbeddings = false, TieEmbeddings = false });
        Assert.AreEqual(count + 2L * 37_000 * 512, untied.ParameterCount());
    }

    [TestMethod]
    public void Bfloat16_model_computes_in_bfloat16_close_to_float32()
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var model = NewModel();
        var source = Tokens(2, 6, 12);
        var target = Tokens(2, 5, 13);
        var reference = model.forward(source, target);
        using var masters = new BFloat16MasterWeights(model);
        Assert.IsTrue(model.parameters().All(p => p.dtype == ScalarType.BFloat16));
        var logits = model.forward(source, target);
        Assert.AreEqual(ScalarType.BFloat16, logits.dtype);
        var probabilities = logits.to_type(ScalarType.Float32).softmax(-1);
        Assert.IsLessThan(0.05, MaxDifference(reference.softmax(-1), probabilities));
    }

    [TestMethod]
    public void State_dict_names_are_readable_and_a_saved_model_loads_exactly()
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var model = NewModel();
        var names = model.state_dict().Keys.ToList();
        CollectionAssert.Contains(names, "source_embeddings.tokens.weight");
        CollectionAssert.Contains(names, "encoder.layers.0.self_attention.query.weight");
        CollectionAssert.Contains(names, "decoder.layers.1.cross_attention.value.bias");
        CollectionAssert.Contains(names, "decoder.layers.1.feed_forward.linear2.weight");
        CollectionAssert.Contains(names, "generator.bias");
        Assert.IsFalse(names.Any(n => n.Contains("table", StringComparison.Ordinal)), "the fixed sinusoid table is not saved");
        Assert.IsFalse(names.Any(n => n.StartsWith("target_embeddings", StringComparison.Ordinal)), "shared embeddings are stored once");

        string path = Path.Combine(Path.GetTempPath(), $"encoder-decoder-{Guid.NewGuid():N}.bin");
        try
        {
            model.save(path);
            Seeding.Apply(999);
            var restored = new EncoderDecoderModel(TransformerConfig.Tiny);
            restored.eval();
            restored.load(path);
            var source = Tokens(2, 5, 14);
            var target = Tokens(2, 4, 15);
            Assert.AreEqual(0.0, MaxDifference(model.forward(source, target), restored.forward(source, target)));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [TestMethod]
    public void Bad_inputs_fail_with_clear_messages()
    {
        using var scope = NewDisposeScope();
        var model = NewModel();
        var error = Assert.ThrowsExactly<ArgumentException>(() => model.Encode(tensor(new long[,] { { 1, 64 } })));
        StringAssert.Contains(error.Message, "Token id 64");
        StringAssert.Contains(error.Message, "VocabSize");
        error = Assert.ThrowsExactly<ArgumentException>(() => model.Encode(ones(1, 200, ScalarType.Int64)));
        StringAssert.Contains(error.Message, "MaxPositions = 128");
        error = Assert.ThrowsExactly<ArgumentException>(() => model.Encode(ones(1, 3, ScalarType.Int32)));
        StringAssert.Contains(error.Message, "int64");
        var memory = model.Encode(ones(2, 3, ScalarType.Int64));
        error = Assert.ThrowsExactly<ArgumentException>(() => model.Decode(ones(3, 2, ScalarType.Int64), memory));
        StringAssert.Contains(error.Message, "memory");
        error = Assert.ThrowsExactly<ArgumentException>(() => new EncoderDecoderModel(TransformerConfig.Tiny with { Heads = 3 }));
        StringAssert.Contains(error.Message, "Heads = 3");
    }

    [TestMethod]
    public void An_architecture_larger_than_memory_is_refused_before_any_weight_is_allocated()
    {
        // Every field within its limits, but about 2.2·10^15 parameters: building it would get the process killed.
        var huge = TransformerConfig.Tiny with { ModelDim = 65536, Heads = 64, FeedForwardDim = 1 << 20, EncoderLayers = 1024, DecoderLayers = 1024 };
        foreach (var build in new Func<TransformerConfig, IDisposable>[]
        {
            c => new EncoderDecoderModel(c), c => new DecoderOnlyModel(c with { EncoderLayers = 0 }),
            c => new Network.Bert.BertModel(c with { PositionalEncoding = PositionalEncodingKind.Learned, TypeVocabSize = 2, DecoderLayers = 0 }),
        })
        {
            var error = Assert.ThrowsExactly<ArgumentException>(() => build(huge).Dispose());
            StringAssert.Contains(error.Message, "GiB of float32 weights, more than the");
            StringAssert.Contains(error.Message, "Choose a smaller ModelDim, FeedForwardDim or fewer layers");
        }
    }
}
