using System.Text;
using Transformer.MLNet.Network.Embeddings;
using Transformer.MLNet.Network.Tokenization;

namespace Transformer.MLNet.Network.Tests.Reliability;

/// <summary>Bad and unusual text through the tokenizer and a classifier: documented results, never a crash.</summary>
[TestClass]
public sealed class TokenizerInputTests
{
    private static BertTextTokenizer Tokenizer => TinyClassifiers.Tokenizer;

    [TestMethod]
    [TestCategory("Reliability")]
    public void Empty_and_whitespace_only_text_is_CLS_SEP_and_null_is_named()
    {
        int[] expected = [Tokenizer.ClsTokenId, Tokenizer.SepTokenId];
        foreach (string text in new[] { "", " ", "   \t\r\n ", "\u0085", "\u00A0\u2003\u3000" })
            CollectionAssert.AreEqual(expected, Tokenizer.EncodeToIds(text, 32, out bool cut), $"'{Escape(text)}'");

        var error = Assert.ThrowsExactly<ArgumentException>(() => Tokenizer.Encode(["fine", null!, "fine"]));
        StringAssert.Contains(error.Message, "Text 1 is null");
        var tooShort = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => Tokenizer.EncodeToIds("x", 1, out _));
        StringAssert.Contains(tooShort.Message, "MaxTokens");
    }

    [TestMethod]
    [TestCategory("Reliability")]
    public void Very_long_text_is_cut_to_the_maximum_and_counted()
    {
        var (texts, _) = TinyClassifiers.Sentences("imdb", 40);
        string huge = string.Join(' ', Enumerable.Repeat(string.Join(' ', texts), 50));   // ~ 400 kB
        Assert.IsGreaterThan(100_000, huge.Length);
        var full = Tokenizer.EncodeToIds(huge, int.MaxValue, out bool fullCut);
        Assert.IsFalse(fullCut);

        var batch = Tokenizer.Encode([huge, "short text", huge], maxTokens: 64);
        Assert.AreEqual(2, batch.TruncatedCount);
        CollectionAssert.AreEqual(new[] { 64, 4, 64 }, batch.Lengths);
        var cut = Tokenizer.EncodeToIds(huge, 64, out bool wasCut);
        Assert.IsTrue(wasCut);
        CollectionAssert.AreEqual(full.Take(63).ToArray(), cut.Take(63).ToArray(), "keeps the first word pieces");
        Assert.AreEqual(Tokenizer.SepTokenId, cut[^1]);

        using var classifier = TinyClassifiers.New(1);
        var logits = classifier.PredictLogits([huge, "short", huge, huge]);
        Assert.AreEqual(3, classifier.TruncatedTextCount);
        Assert.IsTrue(logits.SelectMany(r => r).All(float.IsFinite));
        CollectionAssert.AreEqual(logits[0], logits[2], "a cut text scores as its first MaxTokens tokens");
    }

    [TestMethod]
    [TestCategory("Reliability")]
    public void Control_characters_of_the_imdb_file_are_deleted_as_by_the_reference()
    {
        var (texts, _) = TinyClassifiers.Sentences("imdb", 1000);
        var withNel = texts.Where(t => t.Contains('\u0085')).ToList();
        Assert.IsNotEmpty(withNel, "the imdb file holds U+0085 (NEXT LINE) inside sentences");
        foreach (string text in withNel)
        {
            var ids = Tokenizer.EncodeToIds(text, 512, out _);
            CollectionAssert.AreEqual(Tokenizer.EncodeToIds(text.Replace("\u0085", "", StringComparison.Ordinal), 512, out _), ids, text);
        }

        // Other C0/C1 controls and format characters are dropped too, as BERT's cleaner does.
        foreach (char c in new[] { '\0', '\u0001', '\u001B', '\u007F', '\u0090', '\u200B', '\uFEFF' })
        {
            var ids = Tokenizer.EncodeToIds($"good{c} movie", 32, out _);
            Assert.IsTrue(ids.All(i => i >= 0 && i < Tokenizer.VocabularySize), $"U+{(int)c:X4}");
            Assert.IsLessThanOrEqualTo(5, ids.Length, $"U+{(int)c:X4}");
        }
    }

    [TestMethod]
    [TestCategory("Reliability")]
    public void Lone_surrogates_and_invalid_utf16_give_valid_ids()
    {
        string[] texts =
        [
            "\uD800", "\uDFFF", "bad \uD83D end", "bad \uDE00 end", "\uDE00\uD83D", "x\uD800\uD800y", "\uFFFE\uFFFF", "\uFDD0\uFDEF", "\uD83F\uDFFF",
            Encoding.UTF8.GetString([0xC3, 0x28, 0xFF, 0xFE, 0x80]),   // invalid UTF-8 decoded with replacement characters
        ];
        using var classifier = TinyClassifiers.New(1);
        // Lone surrogates (category Cs) and U+FFFD are deleted by BERT's cleaner; a surrogate pair (emoji) is untouched.
        // Noncharacters are unassigned (Cn), which Hugging Face's cleaner keeps: they make their word unknown.
        CollectionAssert.AreEqual(new[] { Tokenizer.ClsTokenId, Tokenizer.SepTokenId }, Tokenizer.EncodeToIds("\uD800", 8, out _));
        CollectionAssert.AreEqual(Tokenizer.EncodeToIds("bad \uFFFD end", 8, out _), Tokenizer.EncodeToIds("bad \uD83D end", 8, out _));
        CollectionAssert.AreEqual(Tokenizer.EncodeToIds("bad end", 8, out _), Tokenizer.EncodeToIds("bad\uDE00 \uFFFDend\uD83D", 8, out _));
        CollectionAssert.AreEqual(
            new[] { Tokenizer.ClsTokenId, Tokenizer.UnknownTokenId, Tokenizer.UnknownTokenId, Tokenizer.SepTokenId },
            Tokenizer.EncodeToIds("bad\uFFFE \uFDD0end\uD83F\uDFFE", 8, out _));
        CollectionAssert.AreNotEqual(Tokenizer.EncodeToIds("bad", 8, out _), Tokenizer.EncodeToIds("bad \uD83D\uDE00", 8, out _));
        foreach (string text in texts)
        {
            var ids = Tokenizer.EncodeToIds(text, 32, out _);
            Assert.AreEqual(Tokenizer.ClsTokenId, ids[0], Escape(text));
            Assert.AreEqual(Tokenizer.SepTokenId, ids[^1], Escape(text));
            Assert.IsTrue(ids.All(i => i >= 0 && i < Tokenizer.VocabularySize), Escape(text));
        }

        Assert.IsTrue(classifier.PredictLogits(texts).SelectMany(r => r).All(float.IsFinite));
    }

    [TestMethod]
    [TestCategory("Reliability")]
    public void Any_script_and_emoji_tokenize_to_known_or_unknown_pieces()
    {
        string[] texts =
        [
            "Привет, мир", "مرحبا بالعالم", "नमस्ते दुनिया", "你好，世界", "こんにちは世界", "안녕하세요", "Γειά σου Κόσμε", "שלום עולם",
            "ሰላም ዓለም", "สวัสดีชาวโลก", "😀👍🏽 great 🎉", "👨‍👩‍👧‍👦", "🏳️‍🌈", "e\u0301te\u0301", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢", "Z̤͔ͧ̑̓ä͖̭̈̇lͮ̒ͫǧ̗͚̚o̙̔ͮ̇͐̇",
        ];
        int unknown = Tokenizer.EncodeToIds("[UNK]", 8, out _)[1];
        foreach (string text in texts)
        {
            var ids = Tokenizer.EncodeToIds(text, 64, out _);
            Assert.IsGreaterThan(2, ids.Length, text);
            Assert.IsTrue(ids.All(i => i >= 0 && i < Tokenizer.VocabularySize), text);
        }

        // Chinese characters are single tokens of the vocabulary (where it has them: 中 and 国, not 你 or 好); accents
        // are stripped like the uncased reference.
        CollectionAssert.DoesNotContain(Tokenizer.EncodeToIds("中国", 8, out _), unknown);
        Assert.HasCount(4, Tokenizer.EncodeToIds("中国", 8, out _));
        CollectionAssert.AreEqual(Tokenizer.EncodeToIds("ete", 8, out _), Tokenizer.EncodeToIds("e\u0301te\u0301", 8, out _));
        using var classifier = TinyClassifiers.New(1);
        Assert.IsTrue(classifier.PredictLogits(texts).SelectMany(r => r).All(float.IsFinite));
    }

    [TestMethod]
    [TestCategory("Reliability")]
    public void Fuzz_thousands_of_random_unicode_strings_through_tokenizer_and_model()
    {
        using var threads = IntraOpThreads.UseOne();
        const int Cases = 20_000;
        var random = new Random(20261126);
        var texts = new string[Cases];
        for (int i = 0; i < Cases; i++)
            texts[i] = RandomText(random);
        int maxTokens = 48;
        using var classifier = TinyClassifiers.New(1, maxTokens: maxTokens);
        int truncated = 0;
        foreach (string text in texts)
        {
            var ids = Tokenizer.EncodeToIds(text, maxTokens, out bool cut);
            truncated += cut ? 1 : 0;
            Assert.IsTrue(ids.Length is >= 2 && ids.Length <= maxTokens && ids[0] == Tokenizer.ClsTokenId && ids[^1] == Tokenizer.SepTokenId, Escape(text));
            Assert.IsTrue(ids.All(id => id >= 0 && id < Tokenizer.VocabularySize), Escape(text));
        }

        var logits = classifier.PredictLogits(texts, batchSize: 64);
        Assert.HasCount(Cases, logits);
        Assert.IsTrue(logits.All(r => r.Length == 2 && r.All(float.IsFinite)));
        Assert.AreEqual(truncated, classifier.TruncatedTextCount);
        Console.WriteLine($"fuzz: {Cases} random Unicode strings, {truncated} cut to {maxTokens} tokens, 0 exceptions, all logits finite");
    }

    // Mixes every kind of code unit: ASCII, controls, whitespace, combining marks, CJK, emoji pairs, lone surrogates,
    // private use and noncharacters, in runs of 0 to 400 characters.
    private static string RandomText(Random random)
    {
        int length = random.Next(8) == 0 ? random.Next(200, 400) : random.Next(0, 60);
        var builder = new StringBuilder(length);
        while (builder.Length < length)
        {
            switch (random.Next(10))
            {
                case 0: builder.Append((char)random.Next(0, 0x20)); break;
                case 1: builder.Append((char)random.Next(0x80, 0xA0)); break;
                case 2: builder.Append((char)random.Next(0xD800, 0xE000)); break;                       // lone surrogate
                case 3: builder.Append(char.ConvertFromUtf32(random.Next(0x1F300, 0x1FAFF))); break;    // emoji pair
                case 4: builder.Append((char)random.Next(0x0300, 0x0370)); break;                       // combining marks
                case 5: builder.Append((char)random.Next(0x4E00, 0x9FFF)); break;                       // CJK
                case 6: builder.Append(" \t\n\u00A0\u2028\u0085"[random.Next(6)]); break;
                case 7: builder.Append((char)random.Next(0xE000, 0x10000)); break;                      // private use … FFFF
                default: builder.Append((char)random.Next(0x20, 0x7F)); break;
            }
        }

        return builder.ToString();
    }

    private static string Escape(string text) =>
        string.Concat(text.Select(c => c is < ' ' or > '~' ? $"\\u{(int)c:X4}" : c.ToString()));
}
