namespace Transformer.MLNet.Schema;

/// <summary>
/// Column and annotation names the stock ML.NET evaluators and transforms look for. ML.NET keeps its own constants
/// internal, so they are spelled here once.
/// </summary>
public static class AnnotationNames
{
    /// <summary>Names of the slots of a vector column (class names of a multiclass score).</summary>
    public const string SlotNames = "SlotNames";

    /// <summary>The values behind a key column's 1-based keys.</summary>
    public const string KeyValues = "KeyValues";

    /// <summary>Which task a score column belongs to (<c>BinaryClassification</c>, <c>MulticlassClassification</c>).</summary>
    public const string ScoreColumnKind = "ScoreColumnKind";

    /// <summary>What a score column's value is (<c>Score</c>, <c>Probability</c>, <c>PredictedLabel</c>).</summary>
    public const string ScoreValueKind = "ScoreValueKind";

    /// <summary>Groups the columns one scorer produced.</summary>
    public const string ScoreColumnSetId = "ScoreColumnSetId";

    /// <summary>Marks a probability column as calibrated (required by AUC-PRC and log-loss).</summary>
    public const string IsNormalized = "IsNormalized";
}
