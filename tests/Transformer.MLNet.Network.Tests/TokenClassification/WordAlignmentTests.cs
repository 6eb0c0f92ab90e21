using Transformer.MLNet.Network.Pretrained;
using Transformer.MLNet.Network.Tokenization;

namespace Transformer.MLNet.Network.Tests.TokenClassification;

/// <summary>Words of raw text with their offsets, and the word pieces each word's label is read from.</summary>
[TestClass]
public sealed class WordAlignmentTests
{
    private static BertTextTokenizer tokenizer = null!;

    [ClassInitialize]
    public static void Initialize(TestContext context) =>
        tokenizer = BertTextTokenizer.FromVocabulary(new MemoryStream(MiniLmPackage.ReadResource(MiniLmPackage.Locate(), MiniLmPackage.VocabularyResource)));

    private static string[] Words(string text) => [.. WordSplitter.Split(text).Select(w => text.Substring(w.Start, w.Length))];

    [TestMethod]
    public void Offsets_map_back_to_the_exact_substring_of_the_raw_text()
    {
        const string text = "  José\tMárquez  visitó\t\tSão Paulo 😀🇪🇸 ¡ya!  Zoë's café,\u00A0naïve\u200Bly  北京。 ";
        CollectionAssert.AreEqual(
            new[] { "José", "Márquez", "visitó", "São", "Paulo", "😀🇪🇸", "¡", "ya", "!", "Zoë", "'", "s", "café", ",", "naïve\u200Bly", "北", "京", "。" },
            Words(text));
        foreach (var (start, length) in WordSplitter.Split(text))
        {
            Assert.IsFalse(char.IsWhiteSpace(text[start]), $"word at {start} starts with a space");
            Assert.IsFalse(char.IsLowSurrogate(text[start]), $"word at {start} starts inside a surrogate pair");
        }

        Assert.IsEmpty(WordSplitter.Split(""));
        Assert.IsEmpty(WordSplitter.Split(" \t\n\u200B "), "whitespace and a lone zero-width space are no word");
    }

    [TestMethod]
    public void Each_word_has_its_own_pieces_and_the_label_sits_on_the_first()
    {
        string[] words = ["Invercargill", "in", "Zürich", "\u200B", "!"];
        int[] ids = tokenizer.EncodeWords(words, 64, out int[] first);
        Assert.AreEqual(tokenizer.ClsTokenId, ids[0]);
        Assert.AreEqual(tokenizer.SepTokenId, ids[^1]);
        Assert.AreEqual(1, first[0]);
        var pieces = ids.Select(tokenizer.IdToToken).ToArray();
        for (int w = 0; w < words.Length; w++)
        {
            int end = w + 1 < words.Length ? first[w + 1] : ids.Length - 1;
            var own = pieces[first[w]..end];
            Assert.IsFalse(own[0].StartsWith("##", StringComparison.Ordinal), $"word {w} starts with a word-initial piece");
            Assert.IsTrue(own.Skip(1).All(p => p.StartsWith("##", StringComparison.Ordinal)), $"word {w}'s other pieces continue it: {string.Join(" ", own)}");
            CollectionAssert.AreEqual(tokenizer.EncodeToIds(words[w], 64, out _)[1..^1].DefaultIfEmpty(tokenizer.UnknownTokenId).ToArray(), ids[first[w]..end],
                $"word {w} is tokenized as on its own");
        }

        Assert.IsGreaterThan(1, first[1] - first[0], "'Invercargill' has several pieces");
        Assert.AreEqual("[UNK]", pieces[first[3]], "a word the tokenizer deletes entirely still has a piece for its label");
    }

    [TestMethod]
    public void Words_past_the_token_limit_have_no_first_piece()
    {
        string[] words = ["a", "b", "c", "d"];
        int[] ids = tokenizer.EncodeWords(words, 4, out int[] first);
        Assert.HasCount(4, ids);
        CollectionAssert.AreEqual(new[] { 1, 2, -1, -1 }, first);
        Assert.AreEqual(tokenizer.SepTokenId, ids[^1]);
    }
}
