using System.Diagnostics;
using Microsoft.ML.Tokenizers;
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

    [TestMethod]
    public void RestrictedTiktokenGivesOrdinaryTextExactlyThePretrainedTokens()
    {
        var pretrained = TiktokenTokenizer.CreateForEncoding(RestrictedTiktokenTokenizer.EncodingName);
        Assert.IsNull(pretrained.Normalizer, "Pieces are cut from the raw text, which needs o200k_base to have no normalizer.");

        // Long texts of short pieces, pieces just under the chunking bound, emoji and punctuation.
        string prose = string.Join("\n", tatoeba.Take(3000).Select(p => p.Source + " " + p.Target));
        string[] texts =
        [
            prose,
            "see https://example.com/" + new string('x', RestrictedTiktokenTokenizer.MaxPieceBytes - 40) + " " + prose[..2000],
            new string('b', RestrictedTiktokenTokenizer.MaxPieceBytes) + " " + prose[..5000],
            prose[..3000] + " <|> ¿¡ 😀👍🏽 " + prose[..3000],
        ];
        foreach (string text in texts)
        {
            var expected = pretrained.EncodeToTokens(text, out _);
            var actual = RestrictedTiktokenTokenizer.EncodePretrained(text);
            CollectionAssert.AreEqual(expected.Select(t => (t.Id, t.Offset)).ToArray(), actual.Select(t => (t.Id, t.Offset)).ToArray());
        }

        // Beside a chunked piece, the other pieces keep their tokens, and the chunks decode back to the piece.
        string head = prose[..4000], tail = prose[^4000..];
        string withLongPiece = head + " " + string.Concat(Enumerable.Repeat("😀", 3000)) + " " + tail;
        var tokens = RestrictedTiktokenTokenizer.EncodePretrained(withLongPiece);
        Assert.AreEqual(withLongPiece, pretrained.Decode(tokens.Select(t => t.Id)));
        int[] headIds = [.. pretrained.EncodeToIds(head)];
        CollectionAssert.AreEqual(headIds, tokens.Take(headIds.Length).Select(t => t.Id).ToArray());
        Assert.AreEqual(withLongPiece.Length, tokens[^1].Offset.End.Value);
    }

    [TestMethod]
    public void RestrictedTiktokenEncodesOneHugeUnbrokenPieceInLinearTime()
    {
        var tokenizer = RestrictedTiktokenTokenizer.Train([.. tatoeba.Take(500).Select(p => p.Source), "😀😀 aaaa"]);
        static string Emoji(int count) => string.Concat(Enumerable.Repeat("😀", count));

        // BPE on one piece is quadratic in its length: 40k emoji took 4 s and 100k 25 s before pieces were chunked.
        tokenizer.Encode(Emoji(2_000));
        // The best of three, so that a collection or another process's burst during one run does not read as growth
        // (quadratic growth would be 16 times for 4 times the length, far above the bound below).
        double TimeOf(string text)
        {
            double best = double.MaxValue;
            for (int run = 0; run < 3; run++)
            {
                GC.Collect();
                var watch = Stopwatch.StartNew();
                int[] ids = tokenizer.Encode(text);
                watch.Stop();
                Assert.IsNotEmpty(ids);
                best = Math.Min(best, watch.Elapsed.TotalSeconds);
            }

            return best;
        }

        double small = TimeOf(Emoji(50_000)), large = TimeOf(Emoji(200_000));
        Assert.IsLessThan(6 * small + 0.05, large, $"50k emoji took {small:F3} s, 200k took {large:F3} s: not linear.");

        // 1 MB of one letter with no spaces.
        string letters = new('a', 1_000_000);
        double lettersTime = TimeOf(letters);
        Assert.IsLessThan(10.0, lettersTime);
        // "!" shifts the emoji off the 1024-byte boundaries: a chunk ends after 1021 bytes rather than inside a pair.
        string odd = "!" + Emoji(1_000);
        var pieces = RestrictedTiktokenTokenizer.EncodePretrained(odd);
        Assert.AreEqual(odd, TiktokenTokenizer.CreateForEncoding(RestrictedTiktokenTokenizer.EncodingName).Decode(pieces.Select(t => t.Id)));
        Assert.AreEqual(odd, tokenizer.Decode(tokenizer.Encode(odd)));
    }
}
