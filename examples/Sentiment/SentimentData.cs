using Transformer.MLNet.Examples.Data;

namespace Sentiment;

/// <summary>One labelled sentence of the UCI "Sentiment Labelled Sentences" files.</summary>
public sealed class SentimentRow
{
    public string Text { get; set; } = "";

    public bool Label { get; set; }

    /// <summary>Reads a UCI file (e.g. "yelp") as rows for ML.NET.</summary>
    public static List<SentimentRow> Read(string source) =>
        UciSentiment.Read(source).Select(r => new SentimentRow { Text = r.Text, Label = r.Positive }).ToList();
}

/// <summary>What the prediction engine returns.</summary>
public sealed class SentimentPrediction
{
    public bool PredictedLabel { get; set; }

    public float Probability { get; set; }
}
