using Transformer.MLNet.Network.Configuration;
using Transformer.MLNet.Network.Generation;
using Transformer.MLNet.Network.Models;
using Transformer.MLNet.Network.Tokenization;
using Transformer.MLNet.Network.Training;

namespace Transformer.MLNet.Network.Tests.Generation;

[TestClass]
public sealed class TextGeneratorTests
{
    private static TextGenerator NewGenerator()
    {
        var tokenizer = CharacterTokenizer.Train("abcdefghijklmnopqrstuvwxyz .,");
        Seeding.Apply(21);
        var config = TransformerConfig.Tiny with
        {
            VocabSize = tokenizer.VocabSize, EncoderLayers = 0, PreLayerNorm = true, PositionalEncoding = PositionalEncodingKind.Learned,
        };
        return new TextGenerator(new DecoderOnlyModel(config), tokenizer);
    }

    private static readonly string[] Prompts = ["to be", "or not", "to be, that is", "", "the question"];

    [TestMethod]
    public void CacheGivesTokenForTokenTheSameContinuations()
    {
        using var generator = NewGenerator();
        var options = new GenerationOptions { MaxNewTokens = 40 };
        string[] cached = generator.Complete(Prompts, options);
        string[] uncached = generator.Complete(Prompts, options with { UseCache = false });
        CollectionAssert.AreEqual(uncached, cached);
        Assert.IsTrue(cached.Any(c => c.Length > 10));
    }

    [TestMethod]
    public void PromptsOfDifferentLengthsBatchLikeSinglePrompts()
    {
        using var generator = NewGenerator();
        string[] greedyBatched = generator.Complete(Prompts, new GenerationOptions { MaxNewTokens = 20 });
        string[] greedySingle = [.. Prompts.Select(p => generator.Complete([p], new GenerationOptions { MaxNewTokens = 20, BatchSize = 1 })[0])];
        CollectionAssert.AreEqual(greedySingle, greedyBatched);
    }

    [TestMethod]
    public void A_prompt_longer_than_the_model_keeps_its_end_and_still_generates()
    {
        using var generator = NewGenerator();
        var options = new GenerationOptions { MaxNewTokens = 20 };
        int positions = TransformerConfig.Tiny.MaxPositions;
        string prompt = string.Concat(Enumerable.Repeat("to be or not to be, ", positions / 4));   // five times the positions
        int[] ids = generator.Tokenizer.Encode(prompt);
        Assert.IsGreaterThan(positions, ids.Length);

        string completion = generator.Complete([prompt], options)[0];
        int kept = positions - options.MaxNewTokens;
        int[] expected = generator.Generate([ids[^kept..]], options)[0];
        Assert.AreEqual(generator.Tokenizer.Decode(expected), completion);
        Assert.IsGreaterThan(0, completion.Length);

        // Token ids are used as given: a prompt with no room to generate is an error naming the limit.
        var error = Assert.Throws<ArgumentException>(() => generator.Generate([ids], options));
        StringAssert.Contains(error.Message, "MaxPositions");
    }

    [TestMethod]
    public void SavedGeneratorLoadsIdentical()
    {
        using var generator = NewGenerator();
        using var stream = new MemoryStream();
        generator.Save(stream);
        stream.Position = 0;
        using var loaded = TextGenerator.Load(stream);
        var options = new GenerationOptions { MaxNewTokens = 30 };
        CollectionAssert.AreEqual(generator.Complete(Prompts, options), loaded.Complete(Prompts, options));
        stream.Position = 0;
        var error = Assert.ThrowsExactly<InvalidDataException>(() => TranslationGenerator.Load(stream));
        StringAssert.Contains(error.Message, "'decoder-only'");
    }
}
