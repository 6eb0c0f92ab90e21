using System.Text;
using Microsoft.ML;
using Transformer.MLNet.Network.Configuration;
using Transformer.MLNet.Network.Generation;
using Transformer.MLNet.Network.Tokenization;
using Transformer.MLNet.TextGeneration;

namespace Transformer.MLNet.Tests.Generation;

[TestClass]
public sealed class CharacterGenerationTests
{
    private sealed record TextRow(string? Text, string Prompt);

    private static bool IsWellFormed(string text)
    {
        for (int i = 0; i < text.Length; i++)
        {
            if (char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
                i++;
            else if (char.IsSurrogate(text[i]))
                return false;
        }

        return true;
    }

    private static byte[] Saved(GenerationTokenizer tokenizer)
    {
        using var stream = new MemoryStream();
        using (var writer = new BinaryWriter(stream, Encoding.UTF8, leaveOpen: true))
            tokenizer.Save(writer);
        return stream.ToArray();
    }

    private static GenerationTokenizer Loaded(byte[] bytes)
    {
        using var reader = new BinaryReader(new MemoryStream(bytes), Encoding.UTF8);
        return GenerationTokenizer.Load(reader);
    }

    // The layout of a character vocabulary as every version has written it: kind, count, one UTF-16 unit each.
    private static byte[] UnitLayout(string characters)
    {
        using var stream = new MemoryStream();
        using (var writer = new BinaryWriter(stream, Encoding.UTF8, leaveOpen: true))
        {
            writer.Write("characters");
            writer.Write(characters.Length);
            foreach (char c in characters)
                writer.Write((ushort)c);
        }

        return stream.ToArray();
    }

    [TestMethod]
    public void A_generator_trained_on_emoji_text_completes_with_well_formed_text()
    {
        string[] emoji = ["🍕", "🎉", "😀", "🚀", "🌍", "🐍", "🎵", "🔥"];
        var rows = Enumerable.Range(0, 60)
            .Select(i => $"{emoji[i % 8]}{emoji[(i * 3 + 1) % 8]} ok {emoji[(i * 5 + 2) % 8]}")
            .Select(t => new TextRow(t, t[..2]))
            .ToList();
        var mlContext = new MLContext(seed: 1);
        var data = mlContext.Data.LoadFromEnumerable(rows);
        using var model = mlContext.Transforms.Text.TrainTextGenerator(new TextGenerationOptions
        {
            Architecture = TransformerConfig.Tiny with { MaxPositions = 32 }, Tokenization = TextGenerationTokenization.Characters,
            Epochs = 1, BlockSize = 16, BatchSize = 16, WarmupSteps = 2, Decoding = new GenerationOptions { MaxNewTokens = 24 },
        }).Fit(data);

        string[] prompts = ["🍕", "ok ", "", "🎉😀"];
        var sampling = new GenerationOptions { Strategy = DecodingStrategy.Sampling, Temperature = 2.0, MaxNewTokens = 24 };
        var completions = new List<string>(model.Complete(prompts));
        for (int seed = 0; seed < 5; seed++)
            completions.AddRange(model.Complete(prompts, sampling with { Seed = seed }));
        Assert.IsTrue(completions.Any(c => c.Length > 0));
        foreach (string completion in completions)
            Assert.IsTrue(IsWellFormed(completion), $"'{completion}' holds an unpaired surrogate.");
    }

    [TestMethod]
    public void A_surrogate_pair_is_one_character_token_and_survives_saving()
    {
        var tokenizer = CharacterTokenizer.Train("a🍕b🎉a");
        Assert.AreEqual(GenerationTokenizer.SpecialTokenCount + 4, tokenizer.VocabSize);
        int[] ids = tokenizer.Encode("🍕a🎉");
        Assert.HasCount(3, ids);
        Assert.DoesNotContain(GenerationTokenizer.UnkId, ids);
        Assert.AreEqual("🍕a🎉", tokenizer.Decode(ids));
        for (int id = 0; id < tokenizer.VocabSize; id++)
            Assert.IsTrue(IsWellFormed(tokenizer.Decode([id])));

        var loaded = Loaded(Saved(tokenizer));
        Assert.AreEqual(tokenizer.VocabSize, loaded.VocabSize);
        CollectionAssert.AreEqual(ids, loaded.Encode("🍕a🎉"));
        Assert.AreEqual("🍕a🎉", loaded.Decode(ids));

        // An unpaired surrogate of a prompt is unknown and reads as U+FFFD.
        Assert.AreEqual("a\uFFFD", tokenizer.Decode(tokenizer.Encode("a\uD83C")));
    }

    [TestMethod]
    public void A_vocabulary_without_surrogate_pairs_keeps_the_saved_layout()
    {
        const string Corpus = "To be, or not to be: that is the question.\nÉté ñ €";
        var tokenizer = CharacterTokenizer.Train(Corpus);
        string characters = new([.. Corpus.Distinct().Order()]);
        CollectionAssert.AreEqual(UnitLayout(characters), Saved(tokenizer));

        var loaded = Loaded(UnitLayout(characters));
        CollectionAssert.AreEqual(tokenizer.Encode(Corpus), loaded.Encode(Corpus));
        Assert.AreEqual(Corpus, loaded.Decode(loaded.Encode(Corpus)));
    }

    [TestMethod]
    public void A_saved_vocabulary_of_surrogate_halves_still_tokenizes_by_unit_and_decodes_well_formed()
    {
        var tokenizer = Loaded(UnitLayout("a\uD83C\uDF55"));
        int[] ids = tokenizer.Encode("a🍕");
        CollectionAssert.AreEqual(new[] { 4, 5, 6 }, ids);
        Assert.AreEqual("a🍕", tokenizer.Decode(ids));
        Assert.AreEqual("a\uFFFD", tokenizer.Decode([4, 5]));
        Assert.AreEqual("\uFFFDa", tokenizer.Decode([6, 4]));
        CollectionAssert.AreEqual(UnitLayout("a\uD83C\uDF55"), Saved(tokenizer));
    }

    [TestMethod]
    public void Training_texts_without_characters_name_the_text_column()
    {
        var mlContext = new MLContext(seed: 1);
        var data = mlContext.Data.LoadFromEnumerable(new[] { new TextRow("", "a"), new TextRow(null, "b"), new TextRow("", "c") });
        var estimator = mlContext.Transforms.Text.TrainTextGenerator(new TextGenerationOptions
        {
            Architecture = TransformerConfig.Tiny with { MaxPositions = 32 }, Tokenization = TextGenerationTokenization.Characters,
            Epochs = 1, BlockSize = 8, ValidationFraction = 0,
        });
        var error = Assert.ThrowsExactly<ArgumentException>(() => estimator.Fit(data));
        Assert.Contains("'Text' (TextColumnName)", error.Message);
        Assert.Contains("no characters", error.Message);
    }

    [TestMethod]
    public void An_undefined_tokenization_is_refused()
    {
        var mlContext = new MLContext(seed: 1);
        var error = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => mlContext.Transforms.Text.TrainTextGenerator(
            new TextGenerationOptions { Tokenization = (TextGenerationTokenization)7 }));
        Assert.AreEqual("Tokenization", error.ParamName);
        Assert.Contains("Tiktoken or Characters", error.Message);
    }
}
