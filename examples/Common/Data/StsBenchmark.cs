using System.Globalization;

namespace Transformer.MLNet.Examples.Data;

/// <summary>One STS Benchmark pair: a similarity score from 0 (unrelated) to 5 (equivalent) and two sentences.</summary>
/// <param name="Score">Gold similarity, 0–5.</param>
/// <param name="Sentence1">First sentence.</param>
/// <param name="Sentence2">Second sentence.</param>
public sealed record StsPair(double Score, string Sentence1, string Sentence2);

/// <summary>Reads the STS Benchmark files (Cer et al. 2017, <c>sts-{train,dev,test}.csv</c>).</summary>
public static class StsBenchmark
{
    /// <summary>Reads one split. The files are tab-separated despite their extension: score in column 4, sentences in
    /// columns 5 and 6 (0-based); some rows carry extra trailing columns, which are ignored.</summary>
    /// <param name="split">"train", "dev" or "test".</param>
    /// <returns>The pairs in file order.</returns>
    /// <exception cref="InvalidDataException">A row has fewer than 7 columns or an unreadable score.</exception>
    public static IReadOnlyList<StsPair> Read(string split)
    {
        string path = DataDirectory.Resolve("stsbenchmark", $"sts-{split}.csv");
        var pairs = new List<StsPair>();
        int lineNumber = 0;
        // Split on '\n' only: other Unicode line separators may occur inside sentences.
        foreach (var line in File.ReadAllText(path).Split('\n'))
        {
            lineNumber++;
            if (line.Length == 0)
                continue;
            var columns = line.TrimEnd('\r').Split('\t');
            if (columns.Length < 7 || !double.TryParse(columns[4], NumberStyles.Float, CultureInfo.InvariantCulture, out double score))
                throw new InvalidDataException($"{path}:{lineNumber}: expected a score in column 4 and sentences in columns 5 and 6 (tab-separated).");
            pairs.Add(new StsPair(score, columns[5], columns[6]));
        }

        return pairs;
    }
}
