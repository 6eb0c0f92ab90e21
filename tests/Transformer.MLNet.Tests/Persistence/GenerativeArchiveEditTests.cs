using System.Text;
using Microsoft.ML;
using Transformer.MLNet.Examples.Data;
using Transformer.MLNet.Network.Configuration;
using Transformer.MLNet.Network.Generation;
using Transformer.MLNet.Persistence;
using Transformer.MLNet.TextGeneration;

namespace Transformer.MLNet.Tests.Persistence;

[TestClass]
public sealed class GenerativeArchiveEditTests
{
    private sealed record TextRow(string Text, string Prompt);

    [TestMethod]
    public void An_edited_config_inside_model_bin_names_the_entry_and_key()
    {
        var (train, _) = TinyShakespeare.Load();
        var rows = train[..3_000].Split("\n\n").Select(t => new TextRow(t, t.Length > 8 ? t[..8] : t)).ToList();
        var mlContext = new MLContext(seed: 1);
        var data = mlContext.Data.LoadFromEnumerable(rows);
        var model = mlContext.Transforms.Text.TrainTextGenerator(new TextGenerationOptions
        {
            Architecture = TransformerConfig.Tiny with { MaxPositions = 64 }, Tokenization = TextGenerationTokenization.Characters,
            Epochs = 1, BlockSize = 16, BatchSize = 32, Decoding = new GenerationOptions { MaxNewTokens = 4 },
        }).Fit(data);
        using var stream = new MemoryStream();
        mlContext.Model.SavePipeline(model, data.Schema, stream);

        // The config is JSON inside the binary file; an edit of the same length keeps the file readable up to it.
        byte[] edited = ArchiveEditor.EditAndChecksum(stream.ToArray(), "segments/0/model.bin", bytes =>
        {
            byte[] from = Encoding.UTF8.GetBytes("\"Heads\":4"), to = Encoding.UTF8.GetBytes("\"Heads\":3");
            int at = bytes.AsSpan().IndexOf(from);
            Assert.IsGreaterThanOrEqualTo(0, at, "the config holds Heads");
            to.CopyTo(bytes, at);
            return bytes;
        });
        var error = Assert.ThrowsExactly<InvalidDataException>(() => mlContext.Model.LoadPipeline(new MemoryStream(edited), out _));
        StringAssert.Contains(error.Message, "segments/0/model.bin: config Heads = 3 is invalid: must be positive and divide ModelDim (64)");
        Assert.DoesNotContain("TransformerConfig", error.Message);
    }

    [TestMethod]
    public void An_edited_vocabulary_count_inside_model_bin_names_the_entry_and_field()
    {
        // The count of the restricted vocabulary follows the encoding's name (a length-prefixed string).
        byte[] edited = ArchiveEditor.EditAndChecksum(SavedGenerator(TextGenerationTokenization.Tiktoken), "segments/0/model.bin", bytes =>
        {
            byte[] name = [10, .. Encoding.UTF8.GetBytes("o200k_base")];
            int at = bytes.AsSpan().IndexOf(name);
            Assert.IsGreaterThanOrEqualTo(0, at, "the tokenizer names its encoding");
            BitConverter.GetBytes(int.MaxValue).CopyTo(bytes, at + name.Length);
            return bytes;
        });
        var error = Assert.ThrowsExactly<InvalidDataException>(() => new MLContext(seed: 1).Model.LoadPipeline(new MemoryStream(edited), out _));
        Assert.Contains("segments/0/model.bin", error.Message);
        Assert.Contains("o200k_base id count is 2147483647", error.Message);
        Assert.Contains("save the pipeline again", error.Message);
    }

    private static readonly Dictionary<TextGenerationTokenization, byte[]> SavedGenerators = [];

    // A tiny generator's archive, trained once per tokenization for the tests that damage it.
    private static byte[] SavedGenerator(TextGenerationTokenization tokenization = TextGenerationTokenization.Characters)
    {
        if (SavedGenerators.TryGetValue(tokenization, out byte[]? saved))
            return saved;
        var rows = Enumerable.Range(0, 40).Select(i => new TextRow($"line {i} of the text", "line")).ToList();
        var mlContext = new MLContext(seed: 1);
        var data = mlContext.Data.LoadFromEnumerable(rows);
        using var model = mlContext.Transforms.Text.TrainTextGenerator(new TextGenerationOptions
        {
            Architecture = TransformerConfig.Tiny with { MaxPositions = 32 }, Tokenization = tokenization,
            Epochs = 1, BlockSize = 16, BatchSize = 16, Decoding = new GenerationOptions { MaxNewTokens = 4 },
        }).Fit(data);
        using var stream = new MemoryStream();
        mlContext.Model.SavePipeline(model, data.Schema, stream);
        return SavedGenerators[tokenization] = stream.ToArray();
    }

    [TestMethod]
    public void An_emptied_transformer_json_names_the_entry()
    {
        byte[] edited = ArchiveEditor.EditJsonAndChecksum(SavedGenerator(), "segments/0/transformer.json", json => json.Clear());
        var error = Assert.ThrowsExactly<InvalidDataException>(() => new MLContext(seed: 1).Model.LoadPipeline(new MemoryStream(edited), out _));
        Assert.Contains("segments/0/transformer.json", error.Message);
        Assert.Contains("save the pipeline again", error.Message);
    }

    [TestMethod]
    [DataRow("empty")]
    [DataRow("half")]
    [DataRow("garbage")]
    public void A_damaged_model_bin_names_the_entry(string damage)
    {
        byte[] edited = ArchiveEditor.EditAndChecksum(SavedGenerator(), "segments/0/model.bin", bytes => damage switch
        {
            "empty" => [],
            "half" => bytes[..(bytes.Length / 2)],
            _ => [.. Enumerable.Range(0, 4096).Select(i => (byte)(i * 37 + 11))],
        });
        var error = Assert.ThrowsExactly<InvalidDataException>(() => new MLContext(seed: 1).Model.LoadPipeline(new MemoryStream(edited), out _));
        Assert.Contains("segments/0/model.bin", error.Message);
        Assert.Contains("save the pipeline again", error.Message);
    }
}
