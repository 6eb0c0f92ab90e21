namespace Sentiment;

/// <summary>One labelled sentence of the UCI "Sentiment Labelled Sentences" files.</summary>
public sealed class SentimentRow
{
    public string Text { get; set; } = "";

    public bool Label { get; set; }

    /// <summary>
    /// Reads <c>sentence&lt;TAB&gt;label</c> lines. Split on '\n' only: the imdb file holds U+0085 (NEL) inside sentences,
    /// which line readers that follow Unicode line breaks would split on.
    /// </summary>
    public static List<SentimentRow> Read(string path)
    {
        var rows = new List<SentimentRow>();
        foreach (string raw in File.ReadAllText(path).Split('\n'))
        {
            string line = raw.TrimEnd('\r');
            int tab = line.LastIndexOf('\t');
            if (tab < 0)
                continue;
            rows.Add(new SentimentRow { Text = line[..tab].Trim(), Label = line[(tab + 1)..].Trim() == "1" });
        }

        return rows;
    }
}

/// <summary>What the prediction engine returns.</summary>
public sealed class SentimentPrediction
{
    public bool PredictedLabel { get; set; }

    public float Probability { get; set; }
}
