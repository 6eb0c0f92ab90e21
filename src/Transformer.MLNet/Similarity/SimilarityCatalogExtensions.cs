using Microsoft.ML;
using Microsoft.ML.Data;
using Transformer.MLNet.Network.Embeddings;
using Transformer.MLNet.Network.Evaluation;
using Transformer.MLNet.Schema;

namespace Transformer.MLNet.Similarity;

/// <summary>The similarity evaluator, next to ML.NET's <c>mlContext.Regression.Evaluate</c>.</summary>
public static class SimilarityCatalogExtensions
{
    /// <summary>
    /// Spearman's and Pearson's correlation of a score column (e.g. a cross-encoder's <c>Score</c>) with a label column
    /// of gold similarities. A NaN or infinite label or score is an error naming the column and row.
    /// </summary>
    /// <param name="catalog"><c>mlContext.Regression</c>.</param>
    /// <param name="data">Scored data.</param>
    /// <param name="labelColumnName">Single column of gold similarities.</param>
    /// <param name="scoreColumnName">Single column of predicted similarities.</param>
    public static SimilarityMetrics EvaluateSimilarity(
        this RegressionCatalog catalog, IDataView data, string labelColumnName = ScoreColumnNames.Label, string scoreColumnName = ScoreColumnNames.Score)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentNullException.ThrowIfNull(data);
        var score = Find(data.Schema, scoreColumnName, nameof(scoreColumnName), NumberDataViewType.Single);
        return Evaluate(data, labelColumnName, [score], row =>
        {
            var getter = row.GetGetter<float>(score);
            float value = 0;
            return () =>
            {
                getter(ref value);
                return value;
            };
        });
    }

    /// <summary>
    /// Spearman's and Pearson's correlation of the cosine of two embedding columns (e.g. from a fine-tuned
    /// <c>ApplySentenceEmbedding</c> applied to each sentence) with a label column of gold similarities.
    /// </summary>
    /// <param name="catalog"><c>mlContext.Regression</c>.</param>
    /// <param name="data">Data with both embeddings.</param>
    /// <param name="labelColumnName">Single column of gold similarities.</param>
    /// <param name="firstEmbeddingColumnName">Vector of Single: each pair's first embedding.</param>
    /// <param name="secondEmbeddingColumnName">Vector of Single of the same length: each pair's second embedding.</param>
    public static SimilarityMetrics EvaluateSimilarity(
        this RegressionCatalog catalog, IDataView data, string labelColumnName, string firstEmbeddingColumnName, string secondEmbeddingColumnName)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentNullException.ThrowIfNull(data);
        var first = Find(data.Schema, firstEmbeddingColumnName, nameof(firstEmbeddingColumnName), null);
        var second = Find(data.Schema, secondEmbeddingColumnName, nameof(secondEmbeddingColumnName), null);
        return Evaluate(data, labelColumnName, [first, second], row =>
        {
            var readFirst = row.GetGetter<VBuffer<float>>(first);
            var readSecond = row.GetGetter<VBuffer<float>>(second);
            VBuffer<float> a = default, b = default;
            return () =>
            {
                readFirst(ref a);
                readSecond(ref b);
                return (float)EmbeddingSimilarity.Cosine(a.DenseValues().ToArray(), b.DenseValues().ToArray());
            };
        });
    }

    private static SimilarityMetrics Evaluate(
        IDataView data, string labelColumnName, IReadOnlyList<DataViewSchema.Column> scoreColumns, Func<DataViewRow, Func<float>> readScore)
    {
        var label = Find(data.Schema, labelColumnName, nameof(labelColumnName), NumberDataViewType.Single);
        var labels = new List<double>();
        var scores = new List<double>();
        using var cursor = data.GetRowCursor([label, .. scoreColumns]);
        var readLabel = cursor.GetGetter<float>(label);
        var score = readScore(cursor);
        float gold = 0;
        while (cursor.MoveNext())
        {
            readLabel(ref gold);
            float predicted = score();
            if (!float.IsFinite(gold))
                throw new InvalidOperationException($"Row {cursor.Position}: label column '{labelColumnName}' is {gold}; gold similarities must be finite numbers.");
            if (!float.IsFinite(predicted))
                throw new InvalidOperationException($"Row {cursor.Position}: the score ({string.Join(", ", scoreColumns.Select(c => c.Name))}) is {predicted}, not a finite number.");
            labels.Add(gold);
            scores.Add(predicted);
        }

        if (labels.Count < 2)
            throw new ArgumentException($"Similarity needs at least 2 rows to correlate; the data has {labels.Count}.", nameof(data));
        return new SimilarityMetrics(Correlation.Spearman(scores, labels), Correlation.Pearson(scores, labels), labels.Count);
    }

    private static DataViewSchema.Column Find(DataViewSchema schema, string name, string parameter, DataViewType? type)
    {
        ArgumentException.ThrowIfNullOrEmpty(name, parameter);
        var column = schema.GetColumnOrNull(name)
            ?? throw new ArgumentOutOfRangeException(parameter,
                $"Column '{name}' ({parameter}) is not in the data. Columns: {string.Join(", ", schema.Where(c => !c.IsHidden).Select(c => c.Name))}.");
        bool ok = type is null
            ? column.Type is VectorDataViewType { ItemType: var item } && item == NumberDataViewType.Single
            : column.Type == type;
        if (!ok)
        {
            throw new ArgumentOutOfRangeException(parameter,
                $"Column '{name}' ({parameter}) must be {(type is null ? "a vector of Single (an embedding)" : type.ToString())} but is {column.Type}.");
        }

        return column;
    }
}
