namespace Transformer.MLNet.Examples.Data;

/// <summary>One sentence of the UCI "Sentiment Labelled Sentences" data with its label.</summary>
/// <param name="Text">The sentence, trimmed.</param>
/// <param name="Positive">True for label 1.</param>
public sealed record LabelledSentence(string Text, bool Positive);

/// <summary>Reads the UCI "Sentiment Labelled Sentences" files (Kotzias et al., KDD 2015).</summary>
public static class UciSentiment
{
    /// <summary>Reads <c>{source}_labelled.txt</c>: <c>sentence&lt;TAB&gt;label</c> lines, no header.</summary>
    /// <param name="source">"yelp", "imdb" or "amazon_cells".</param>
    /// <returns>The sentences in file order.</returns>
    public static IReadOnlyList<LabelledSentence> Read(string source)
    {
        string path = DataDirectory.Resolve("uci-sentiment-labelled-sentences", $"{source}_labelled.txt");
        var rows = new List<LabelledSentence>();
        // Split on '\n' only: the imdb file holds U+0085 (NEL) inside sentences, which Unicode-aware line readers split on.
        foreach (string raw in File.ReadAllText(path).Split('\n'))
        {
            string line = raw.TrimEnd('\r');
            int tab = line.LastIndexOf('\t');
            if (tab < 0)
                continue;
            rows.Add(new LabelledSentence(line[..tab].Trim(), line[(tab + 1)..].Trim() == "1"));
        }

        return rows;
    }
}
