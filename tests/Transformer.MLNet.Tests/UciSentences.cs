using Transformer.MLNet.Network.Data;

namespace Transformer.MLNet.Tests;

/// <summary>A labelled sentence of the UCI "Sentiment Labelled Sentences" data.</summary>
public sealed class SentenceRow
{
    public string Text { get; set; } = "";

    public bool Label { get; set; }

    /// <summary>Source × sentiment, e.g. "yelp-positive", for the multiclass tests.</summary>
    public string Category { get; set; } = "";
}

/// <summary>Reads the UCI files: <c>sentence&lt;TAB&gt;label</c> split on '\n' only (imdb holds U+0085 inside sentences).</summary>
public static class UciSentences
{
    public static List<SentenceRow> Read(string source)
    {
        string path = DataDirectory.Resolve("uci-sentiment-labelled-sentences", $"{source}_labelled.txt");
        var rows = new List<SentenceRow>();
        foreach (string raw in File.ReadAllText(path).Split('\n'))
        {
            string line = raw.TrimEnd('\r');
            int tab = line.LastIndexOf('\t');
            if (tab < 0)
                continue;
            bool positive = line[(tab + 1)..].Trim() == "1";
            rows.Add(new SentenceRow { Text = line[..tab].Trim(), Label = positive, Category = $"{source}-{(positive ? "positive" : "negative")}" });
        }

        return rows;
    }
}
