namespace Transformer.MLNet.Similarity;

/// <summary>How well a similarity score ranks and fits gold ratings (<c>mlContext.Regression.EvaluateSimilarity</c>).</summary>
public sealed class SimilarityMetrics
{
    internal SimilarityMetrics(double spearman, double pearson, long count)
    {
        Spearman = spearman;
        Pearson = pearson;
        Count = count;
    }

    /// <summary>Spearman's rank correlation of score and label (ties get their average rank), the usual STS metric.</summary>
    public double Spearman { get; }

    /// <summary>Pearson's linear correlation of score and label.</summary>
    public double Pearson { get; }

    /// <summary>Rows evaluated.</summary>
    public long Count { get; }
}
