using Transformer.MLNet.Examples.Data;

namespace Transformer.MLNet.Tests;

/// <summary>A labelled sentence of the UCI "Sentiment Labelled Sentences" data.</summary>
public sealed class SentenceRow
{
    public string Text { get; set; } = "";

    public bool Label { get; set; }

    /// <summary>Source × sentiment, e.g. "yelp-positive", for the multiclass tests.</summary>
    public string Category { get; set; } = "";
}

/// <summary>The UCI files as rows for ML.NET, with the source × sentiment category for the multiclass tests.</summary>
public static class UciSentences
{
    public static List<SentenceRow> Read(string source) =>
        UciSentiment.Read(source)
            .Select(r => new SentenceRow { Text = r.Text, Label = r.Positive, Category = $"{source}-{(r.Positive ? "positive" : "negative")}" })
            .ToList();
}
