using System.IO.Compression;
using System.Text;
using Transformer.MLNet.Examples.Data;

namespace Transformer.MLNet.Network.Tests.Tokenization.HuggingFace;

/// <summary>Every sentence of the real data sets the tokenizer parity is checked on, read as plainly as possible.</summary>
internal static class ParityCorpora
{
    /// <summary>Name → sentences: STS-B (all splits), UCI sentiment, Tatoeba (both languages), UNER English-EWT.</summary>
    public static IReadOnlyDictionary<string, IReadOnlyList<string>> Load()
    {
        var corpora = new Dictionary<string, IReadOnlyList<string>>
        {
            ["STS-B (train, dev, test)"] = [.. new[] { "train", "dev", "test" }.SelectMany(StsSentences)],
            ["UCI sentiment"] = [.. UciFiles().SelectMany(UciSentences)],
            ["Tatoeba English and Spanish"] = TatoebaSentences(),
            ["UNER English-EWT (dev, test)"] = [.. new[] { "dev", "test" }.SelectMany(UnerSentences)],
        };
        return corpora;
    }

    // Tab-separated despite .csv; the sentences are columns 5 and 6. Split on '\n' only: the sentences may hold other
    // line separators.
    private static IEnumerable<string> StsSentences(string split) =>
        Lines(DataDirectory.Resolve("stsbenchmark", $"sts-{split}.csv"))
            .Select(line => line.TrimEnd('\r').Split('\t'))
            .Where(columns => columns.Length >= 7)
            .SelectMany(columns => new[] { columns[5], columns[6] });

    private static IEnumerable<string> UciFiles()
    {
        yield return DataDirectory.Resolve("uci-sentiment-labelled-sentences", "yelp_labelled.txt");
        yield return DataDirectory.Resolve("uci-sentiment-labelled-sentences", "imdb_labelled.txt");
        string amazon = Path.Combine(DataDirectory.Root, "uci-sentiment-labelled-sentences", "amazon_cells_labelled.txt");
        if (File.Exists(amazon))   // not in every copy of the data set
            yield return amazon;
    }

    // sentence<TAB>label lines, split on '\n' only (imdb holds U+0085 inside sentences).
    private static IEnumerable<string> UciSentences(string path) =>
        Lines(path).Select(line => line.TrimEnd('\r')).Where(line => line.Contains('\t', StringComparison.Ordinal))
            .Select(line => line[..line.LastIndexOf('\t')]);

    private static List<string> TatoebaSentences()
    {
        using var file = File.OpenRead(DataDirectory.Resolve("tatoeba-spa-eng", "spa.txt.gz"));
        using var gzip = new GZipStream(file, CompressionMode.Decompress);
        using var reader = new StreamReader(gzip, Encoding.UTF8);
        var sentences = new List<string>();
        foreach (string line in reader.ReadToEnd().Split('\n'))
        {
            string[] fields = line.TrimEnd('\r').Split('\t');
            if (fields.Length >= 2)
                sentences.AddRange(fields[..2]);
        }

        return sentences;
    }

    // The sentences as written, from the "# text = " comment before each sentence's word lines.
    private static IEnumerable<string> UnerSentences(string split)
    {
        const string Prefix = "# text = ";
        return Lines(DataDirectory.Resolve("uner-english-ewt", $"en_ewt-ud-{split}.iob2"))
            .Where(line => line.StartsWith(Prefix, StringComparison.Ordinal))
            .Select(line => line[Prefix.Length..].TrimEnd('\r'));
    }

    private static string[] Lines(string path) => File.ReadAllText(path, Encoding.UTF8).Split('\n');
}
