using TorchSharp;
using Transformer.MLNet.Network.Configuration;
using Transformer.MLNet.Network.Models;
using Transformer.MLNet.Network.Training;
using static TorchSharp.torch;

namespace Transformer.MLNet.Network.Tests.Models;

[TestClass]
public sealed class IncrementalDecodingTests
{
    [TestMethod]
    public void Encoder_decoder_shapes_follow_the_documented_contract()
    {
        using var scope = NewDisposeScope();
        Seeding.Apply(1);
        var model = new EncoderDecoderModel(TransformerConfig.Tiny);
        var source = randint(1, 64, [3, 7], dtype: ScalarType.Int64);
        var target = randint(1, 64, [3, 5], dtype: ScalarType.Int64);
        var memory = model.Encode(source, model.PaddingMask(source));
        CollectionAssert.AreEqual(new long[] { 3, 7, 64 }, memory.shape);
        var hidden = model.Decode(target, memory, model.PaddingMask(source));
        CollectionAssert.AreEqual(new long[] { 3, 5, 64 }, hidden.shape);
        CollectionAssert.AreEqual(new long[] { 3, 5, 64 }, model.Project(hidden).shape);
    }

    [TestMethod]
    public void Cached_encoder_decoder_steps_give_the_full_pass_logits()
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        Seeding.Apply(2);
        var model = new EncoderDecoderModel(TransformerConfig.Tiny);
        model.eval();
        var source = randint(1, 64, [2, 9], dtype: ScalarType.Int64);
        source[1, 6..] = tensor(0L);                                   // padding in the second row
        var padding = model.PaddingMask(source);
        var target = randint(1, 64, [2, 6], dtype: ScalarType.Int64);
        var memory = model.Encode(source, padding);
        var full = model.Project(model.Decode(target, memory, padding));   // (B, T, V)

        using var cache = model.NewCache();
        for (int t = 0; t < 6; t++)
        {
            using var stepScope = NewDisposeScope();
            var step = model.Project(model.Decode(target[.., t..(t + 1)], memory, padding, cache));   // (B, 1, V)
            Assert.AreEqual(t + 1L, cache.Length);
            var difference = (step - full[.., t..(t + 1)]).abs().max().ToDouble();
            Assert.IsLessThan(1e-5, difference, $"step {t}");
        }
    }

    [TestMethod]
    public void Cached_decoder_only_steps_give_the_full_pass_logits()
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        Seeding.Apply(3);
        var model = new DecoderOnlyModel(TransformerConfig.Tiny with { PreLayerNorm = true, PositionalEncoding = PositionalEncodingKind.Learned });
        model.eval();
        var tokens = randint(0, 64, [2, 8], dtype: ScalarType.Int64);
        var full = model.call(tokens);

        using var cache = model.NewCache();
        // A prompt of three tokens at once, then one token per step.
        var prompt = model.forward(tokens[.., ..3], cache);
        Assert.IsLessThan(1e-5, (prompt - full[.., ..3]).abs().max().ToDouble());
        for (int t = 3; t < 8; t++)
        {
            var step = model.forward(tokens[.., t..(t + 1)], cache);
            Assert.IsLessThan(1e-5, (step - full[.., t..(t + 1)]).abs().max().ToDouble(), $"step {t}");
        }
    }

    [TestMethod]
    public void Beam_reordering_selects_cached_rows()
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        Seeding.Apply(4);
        var model = new DecoderOnlyModel(TransformerConfig.Tiny);
        model.eval();
        var tokens = randint(0, 64, [3, 5], dtype: ScalarType.Int64);
        var full = model.call(tokens);
        using var cache = model.NewCache();
        model.forward(tokens[.., ..4], cache);
        var order = tensor(new long[] { 2, 0 });
        cache.Reorder(order);
        var step = model.forward(tokens.index_select(0, order)[.., 4..5], cache);
        Assert.IsLessThan(1e-5, (step - full.index_select(0, order)[.., 4..5]).abs().max().ToDouble());
    }
}
