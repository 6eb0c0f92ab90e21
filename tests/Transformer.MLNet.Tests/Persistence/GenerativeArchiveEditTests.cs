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
}
