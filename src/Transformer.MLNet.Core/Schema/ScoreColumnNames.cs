namespace Transformer.MLNet.Schema;

/// <summary>Default column names of ML.NET's trainers and evaluators.</summary>
public static class ScoreColumnNames
{
    /// <summary>The label column.</summary>
    public const string Label = "Label";

    /// <summary>The feature vector column.</summary>
    public const string Features = "Features";

    /// <summary>The raw score column.</summary>
    public const string Score = "Score";

    /// <summary>The calibrated probability column of a binary classifier.</summary>
    public const string Probability = "Probability";

    /// <summary>The predicted label column.</summary>
    public const string PredictedLabel = "PredictedLabel";
}
