using Transformer.MLNet.Examples.Data;
using Transformer.MLNet.Network.Generation;
using Transformer.MLNet.Network.Tokenization;

namespace Transformer.MLNet.Network.Tests.Tokenization;

[TestClass]
public sealed class GenerationTokenizerTests
{
    private static IReadOnlyList<TranslationPair> tatoeba = [];

    [ClassInitialize]
    public static void LoadData(TestContext context) => tatoeba = TatoebaSpanishEnglish.Load();

    [TestMethod]
    public void RestrictedTiktokenRoundTripsEveryTatoebaSentence()
    {
        string[] sentences = [.. tatoeba.SelectMany(p => new[] { p.Source, p.Target })];
        var tokenizer = RestrictedTiktokenTokenizer.Train(sentences);

        // The restricted vocabulary is a small part of o200k_base's 200k ids.
        Assert.IsLessThan(40_000, tokenizer.VocabSize);
        Assert.IsGreaterThan(5_000, tokenizer.VocabSize);
        foreach (string sentence in sentences)
        {
            int[] ids = tokenizer.Encode(sentence);
            Assert.DoesNotContain(GenerationTokenizer.UnkId, ids, sentence);
            Assert.AreEqual(sentence, tokenizer.Decode(ids));
        }
    }

    [TestMethod]
    public void RestrictedTiktokenMapsUnseenTokensToUnkAndSkipsSpecials()
    {
        var tokenizer = RestrictedTiktokenTokenizer.Train(tatoeba.Take(2000).Select(p => p.Source));
        int[] ids = tokenizer.Encode("Tom ¿qué? 量子コンピュータ");
        CollectionAssert.Contains(ids, GenerationTokenizer.UnkId);
        string decoded = tokenizer.Decode([GenerationTokenizer.BosId, .. ids, GenerationTokenizer.EosId, GenerationTokenizer.PadId]);
        StringAssert.StartsWith(decoded, "Tom ¿qué?");
        StringAssert.Contains(decoded, GenerationTokenizer.UnknownText);
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => tokenizer.Decode([tokenizer.VocabSize]));
    }

    [TestMethod]
    public void CharacterTokenizerRoundTripsTinyShakespeare()
    {
        var (train, validation) = TinyShakespeare.Load();
        var tokenizer = CharacterTokenizer.Train(train);
        Assert.AreEqual(GenerationTokenizer.SpecialTokenCount + 65, tokenizer.VocabSize);
        int[] ids = tokenizer.Encode(validation);
        Assert.HasCount(validation.Length, ids);
        Assert.AreEqual(validation, tokenizer.Decode(ids));
    }

    [TestMethod]
    public void SavedTokenizersLoadIdentical()
    {
        string sample = string.Join("\n", tatoeba.Take(500).Select(p => p.Source + " " + p.Target));
        GenerationTokenizer[] tokenizers = [RestrictedTiktokenTokenizer.Train(tatoeba.Take(3000).Select(p => p.Target)), CharacterTokenizer.Train(sample)];
        foreach (var tokenizer in tokenizers)
        {
            using var stream = new MemoryStream();
            using (var writer = new BinaryWriter(stream, System.Text.Encoding.UTF8, leaveOpen: true))
                tokenizer.Save(writer);
            stream.Position = 0;
            using var reader = new BinaryReader(stream);
            var loaded = GenerationTokenizer.Load(reader);
            Assert.AreEqual(tokenizer.GetType(), loaded.GetType());
            Assert.AreEqual(tokenizer.VocabSize, loaded.VocabSize);
            CollectionAssert.AreEqual(tokenizer.Encode(sample), loaded.Encode(sample));
            Assert.AreEqual(tokenizer.Decode(tokenizer.Encode(sample)), loaded.Decode(loaded.Encode(sample)));
        }
    }
}
