using System.Text;
using System.Text.Json;
using Transformer.MLNet.Network.Configuration;
using Transformer.MLNet.Network.Generation;
using Transformer.MLNet.Network.Tokenization;

namespace Transformer.MLNet.Network.Tests.Generation;

[TestClass]
public sealed class DamagedGenerativeModelTests
{
    // The start of a generative model file as GenerativeModelFile writes it: magic, version, kind, config JSON, and then
    // whatever the test writes where the tokenizer belongs.
    private static MemoryStream ModelFile(string configJson, Action<BinaryWriter> tokenizer)
    {
        var stream = new MemoryStream();
        using (var writer = new BinaryWriter(stream, Encoding.UTF8, leaveOpen: true))
        {
            writer.Write("TransformerMLNet.Generative");
            writer.Write(1);
            writer.Write("decoder-only");
            writer.Write(configJson);
            tokenizer(writer);
        }

        stream.Position = 0;
        return stream;
    }

    private static readonly string TinyConfig = JsonSerializer.Serialize(TransformerConfig.Tiny with { EncoderLayers = 0 });

    [TestMethod]
    [DataRow(int.MaxValue)]
    [DataRow(400_000_000)]
    [DataRow(1000)]
    [DataRow(-7)]
    public void A_restricted_vocabulary_count_the_file_cannot_hold_is_refused_naming_the_field(int count)
    {
        using var stream = ModelFile(TinyConfig, writer =>
        {
            writer.Write("tiktoken-restricted");
            writer.Write("o200k_base");
            writer.Write(count);
            writer.Write(12);          // one id: far fewer bytes than the count claims
        });
        long before = GC.GetAllocatedBytesForCurrentThread();
        var error = Assert.ThrowsExactly<InvalidDataException>(() => TextGenerator.Load(stream));
        Assert.IsLessThan(64L << 20, GC.GetAllocatedBytesForCurrentThread() - before, "the count must not size an allocation");
        Assert.Contains("o200k_base id count", error.Message);
        Assert.Contains(count.ToString(System.Globalization.CultureInfo.InvariantCulture), error.Message);
        Assert.IsNull(error.InnerException);
    }

    [TestMethod]
    [DataRow(0x110001)]
    [DataRow(1000)]
    public void A_character_count_the_file_cannot_hold_is_refused_naming_the_field(int count)
    {
        using var stream = ModelFile(TinyConfig, writer =>
        {
            writer.Write("characters");
            writer.Write(count);
            writer.Write((ushort)'a');
        });
        var error = Assert.ThrowsExactly<InvalidDataException>(() => TextGenerator.Load(stream));
        Assert.Contains("character count", error.Message);
        Assert.Contains(count.ToString(System.Globalization.CultureInfo.InvariantCulture), error.Message);
    }

    [TestMethod]
    public void An_empty_or_cut_short_stream_is_not_a_saved_model()
    {
        var empty = Assert.ThrowsExactly<InvalidDataException>(() => TextGenerator.Load(new MemoryStream()));
        Assert.Contains("not a saved generative model", empty.Message);
        Assert.Contains("truncated", empty.Message);
        Assert.IsInstanceOfType<EndOfStreamException>(empty.InnerException);

        // A whole header whose weights are missing.
        var tokenizer = CharacterTokenizer.Train("abc");
        string config = JsonSerializer.Serialize(TransformerConfig.Tiny with { EncoderLayers = 0, VocabSize = tokenizer.VocabSize });
        using var headerOnly = ModelFile(config, tokenizer.Save);
        var cut = Assert.ThrowsExactly<InvalidDataException>(() => TextGenerator.Load(headerOnly));
        Assert.Contains("not a saved generative model", cut.Message);
        Assert.Contains("truncated", cut.Message);
    }

    [TestMethod]
    public void A_config_describing_a_model_larger_than_the_file_is_refused_before_the_model_is_built()
    {
        var tokenizer = CharacterTokenizer.Train("abc");
        // Within the config's limits, but 48 layers of width 4096 would take gigabytes to build.
        string config = JsonSerializer.Serialize(TransformerConfig.Tiny with
        {
            EncoderLayers = 0, DecoderLayers = 48, ModelDim = 4096, Heads = 32, FeedForwardDim = 16384, VocabSize = tokenizer.VocabSize,
        });
        using var stream = ModelFile(config, writer =>
        {
            tokenizer.Save(writer);
            writer.Write(new byte[4096]);
        });
        long before = GC.GetTotalAllocatedBytes();
        var error = Assert.ThrowsExactly<InvalidDataException>(() => TextGenerator.Load(stream));
        Assert.Contains("its config describes a model of at least", error.Message);
        Assert.Contains("but only 4,096 bytes follow the header", error.Message);
        Assert.IsLessThan(64L << 20, GC.GetTotalAllocatedBytes() - before);
    }

    [TestMethod]
    public void The_size_check_counts_only_the_layers_a_model_builds()
    {
        // A decoder-only model ignores EncoderLayers: a config that leaves many of them in must still save and load.
        var tokenizer = CharacterTokenizer.Train("abc");
        var config = TransformerConfig.Tiny with { EncoderLayers = 512, DecoderLayers = 1, VocabSize = tokenizer.VocabSize };
        using var generator = new TextGenerator(new Network.Models.DecoderOnlyModel(config), tokenizer);
        using var stream = new MemoryStream();
        generator.Save(stream);
        stream.Position = 0;
        using var loaded = TextGenerator.Load(stream);
        Assert.AreEqual(512, loaded.Model.Config.EncoderLayers);
    }

    [TestMethod]
    public void A_malformed_config_is_not_a_saved_model()
    {
        using var stream = ModelFile("{\"VocabSize\": 7, ", writer => CharacterTokenizer.Train("abc").Save(writer));
        var error = Assert.ThrowsExactly<InvalidDataException>(() => TextGenerator.Load(stream));
        Assert.Contains("configuration", error.Message);
        Assert.Contains("not valid JSON", error.Message);
        Assert.IsInstanceOfType<JsonException>(error.InnerException);
    }
}
