using System.Diagnostics;
using Transformer.MLNet.Network.Tests.Tokenization.HuggingFace;
using Transformer.MLNet.Network.Tokenization;

namespace Transformer.MLNet.Network.Tests.Tokenization;

/// <summary>
/// Differential tests against Hugging Face's own BERT tokenizer (<c>@huggingface/tokenizers</c>, pinned, run by node;
/// npm installs it on first use, so these tests need node and the npm registry): token ids on every sentence of the
/// real data sets and on 100,000 generated strings over all of Unicode.
/// </summary>
[TestClass]
public sealed class HuggingFaceParityTests
{
    private const int FuzzCount = 100_000;
    private const int FuzzSeed = 20261202;

    // Every text of every corpus with Hugging Face's ids, from one node run over the distinct texts.
    private static readonly Lazy<List<(string Corpus, string Text, int[] Ids)>> LazyHuggingFace = new(() =>
    {
        var watch = Stopwatch.StartNew();
        var texts = ParityCorpora.Load().SelectMany(corpus => corpus.Value.Select(text => (Corpus: corpus.Key, Text: text))).ToList();
        var read = watch.Elapsed;
        texts.AddRange(UnicodeFuzzCorpus.Generate(FuzzCount, FuzzSeed).Select(text => (Corpus: Fuzz, Text: text)));
        var generated = watch.Elapsed;
        string[] distinct = [.. texts.Select(t => t.Text).Distinct(StringComparer.Ordinal)];
        var ids = new HuggingFaceBertTokenizer(Tokenizer).Encode(distinct);
        var byText = distinct.Zip(ids).ToDictionary(pair => pair.First, pair => pair.Second, StringComparer.Ordinal);
        HuggingFaceLog = $"read the corpora in {read.TotalSeconds:F1} s, generated the fuzz in {(generated - read).TotalSeconds:F1} s, " +
            $"Hugging Face {HuggingFaceBertTokenizer.Package} {HuggingFaceBertTokenizer.PackageVersion} encoded {distinct.Length} distinct texts in {(watch.Elapsed - generated).TotalSeconds:F1} s";
        return [.. texts.Select(t => (t.Corpus, t.Text, byText[t.Text]))];
    });

    private static string HuggingFaceLog = "";

    private const string Fuzz = "generated Unicode";

    public TestContext TestContext { get; set; } = null!;

    private static BertTextTokenizer Tokenizer => Reliability.TinyClassifiers.Tokenizer;   // the MiniLM vocabulary

    [TestMethod]
    [TestCategory("Parity")]
    public void Reference_rules_give_hugging_faces_ids_on_every_corpus_sentence_and_100000_generated_strings()
    {
        var all = LazyHuggingFace.Value;
        TestContext.WriteLine(HuggingFaceLog);
        var watch = Stopwatch.StartNew();
        var differences = new Dictionary<string, int>();
        foreach (var group in all.GroupBy(t => t.Corpus))
        {
            int differing = 0;
            foreach (var (_, text, expected) in group)
            {
                int[] ours = Tokenizer.EncodeToIds(text, int.MaxValue, out _);
                if (ours.SequenceEqual(expected))
                    continue;
                if (differing++ < 10)
                    TestContext.WriteLine($"{group.Key}: \"{Escape(text)}\"\n  Hugging Face {Tokens(expected)}\n  ours         {Tokens(ours)}");
            }

            differences[group.Key] = differing;
            TestContext.WriteLine($"{group.Key}: {group.Count()} texts, {differing} differences");
        }

        TestContext.WriteLine($"ours: {all.Count} texts in {watch.Elapsed.TotalSeconds:F1} s");
        Assert.IsGreaterThanOrEqualTo(FuzzCount, all.Count(t => t.Corpus == Fuzz));
        Assert.IsGreaterThan(250_000, all.Count(t => t.Corpus != Fuzz), "every sentence of STS-B, UCI, Tatoeba and UNER");
        Assert.AreEqual(0, differences.Values.Sum(), string.Join(", ", differences.Select(d => $"{d.Key}: {d.Value}")));
    }

    [TestMethod]
    [TestCategory("Parity")]
    public void Package_rules_differ_from_hugging_face_only_where_the_package_departs_from_bert()
    {
        var package = Tokenizer.WithRules(BertTokenizationRules.MiniLmPackage);
        var reasons = new Dictionary<string, int>();
        var identical = new Dictionary<string, int>();
        foreach (var group in LazyHuggingFace.Value.GroupBy(t => t.Corpus))
        {
            identical[group.Key] = 0;
            foreach (var (corpus, text, expected) in group)
            {
                int[] ours = package.EncodeToIds(text, int.MaxValue, out _);
                if (ours.SequenceEqual(expected))
                {
                    identical[corpus]++;
                    continue;
                }

                string reason = PackageDeparture(text, ours)
                    ?? throw new AssertFailedException($"{corpus}: unexplained difference for \"{Escape(text)}\"\n  Hugging Face {Tokens(expected)}\n  package      {Tokens(ours)}");
                reasons[reason] = reasons.GetValueOrDefault(reason) + 1;
            }

            TestContext.WriteLine($"{group.Key}: {group.Count()} texts, {identical[group.Key]} identical to Hugging Face's");
        }

        TestContext.WriteLine("Differences, by the package's departure from BERT:");
        foreach (var (reason, count) in reasons.OrderByDescending(r => r.Value))
            TestContext.WriteLine($"  {count,7}  {reason}");
        Assert.IsGreaterThan(17256 * 99 / 100, identical["STS-B (train, dev, test)"], "STS-B: more than 1% of sentences differ");
    }

    // The package's documented departures from BERT (see BertTokenizationRules.MiniLmPackage), from the text and the
    // package's ids alone; null if none applies.
    private static string? PackageDeparture(string text, int[] packageIds)
    {
        if (text.Any(c => c > '~'))
            return "non-ASCII text: the package keeps accents and format characters and splits only on ASCII punctuation, the en dash, spaces and CR LF";
        if (text.Any(c => c is < ' ' or '\x7F'))
            return "ASCII control characters: the package splits only on spaces and CR LF, and keeps the controls";
        if (new[] { "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]" }.Any(special => text.Contains(special, StringComparison.Ordinal)))
            return "a special token written in the text: the package splits it into punctuation and a word";
        if (text.Split(' ').Any(word => word.Length > 50))
            return "a word of more than 50 characters: the package drops it";
        if (packageIds.Contains(Tokenizer.UnknownTokenId))
            return "a word WordPiece cannot cover: the package keeps the pieces before the uncovered rest, and gives [UNK] for unknown words of one or two characters";
        return null;
    }

    private static string Tokens(IEnumerable<int> ids) => string.Join(" ", ids.Select(Tokenizer.IdToToken));

    private static string Escape(string text) =>
        string.Concat(text.Select(c => c is < ' ' or > '~' ? $"\\u{(int)c:X4}" : c.ToString()));
}
