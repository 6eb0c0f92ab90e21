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
    /// of gold similarities. A NaN or infinite label or score is an error naming the column and row; so is a label or
    /// score column with one value in every row, whose correlation is undefined.
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
        return Evaluate(data, labelColumnName, [score], $"Column '{scoreColumnName}'", nameof(scoreColumnName), row =>
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
    /// <c>ApplySentenceEmbedding</c> applied to each sentence) with a label column of gold similarities. Embeddings of
    /// different lengths, an empty or all-zero embedding (whose cosine is undefined), and a label or cosine with one
    /// value in every row are errors naming the columns (and the row).
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
        return Evaluate(data, labelColumnName, [first, second], $"The cosine of '{firstEmbeddingColumnName}' and '{secondEmbeddingColumnName}'", nameof(secondEmbeddingColumnName), row =>
        {
            var readFirst = row.GetGetter<VBuffer<float>>(first);
            var readSecond = row.GetGetter<VBuffer<float>>(second);
            VBuffer<float> a = default, b = default;
            return () =>
            {
                readFirst(ref a);
                readSecond(ref b);
                float[] x = a.DenseValues().ToArray(), y = b.DenseValues().ToArray();
                if (x.Length != y.Length)
                {
                    throw new ArgumentException(
                        $"Row {row.Position}: embedding columns '{firstEmbeddingColumnName}' ({x.Length} values) and '{secondEmbeddingColumnName}' " +
                        $"({y.Length} values) differ in length; compare embeddings of the same model.", nameof(secondEmbeddingColumnName));
                }

                CheckEmbedding(x, firstEmbeddingColumnName, nameof(firstEmbeddingColumnName), row.Position);
                CheckEmbedding(y, secondEmbeddingColumnName, nameof(secondEmbeddingColumnName), row.Position);
                return (float)EmbeddingSimilarity.Cosine(x, y);
            };
        });
    }

    private static SimilarityMetrics Evaluate(
        IDataView data, string labelColumnName, IReadOnlyList<DataViewSchema.Column> scoreColumns, string scoreDescription,
        string scoreParameter, Func<DataViewRow, Func<float>> readScore)
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
        if (labels.TrueForAll(l => l == labels[0]))
        {
            throw new ArgumentException(
                $"Column '{labelColumnName}' has the same value ({(float)labels[0]}) in every row: a correlation is undefined; evaluate on rows with different labels.",
                nameof(labelColumnName));
        }

        if (scores.TrueForAll(s => s == scores[0]))
        {
            throw new ArgumentException(
                $"{scoreDescription} has the same value ({(float)scores[0]}) in every row: a correlation is undefined; " +
                "evaluate a model whose scores differ between pairs.", scoreParameter);
        }

        return new SimilarityMetrics(Correlation.Spearman(scores, labels), Correlation.Pearson(scores, labels), labels.Count);
    }

    /// <summary>A cosine needs a non-empty, non-zero vector; otherwise an error naming the column and row.</summary>
    private static void CheckEmbedding(float[] embedding, string columnName, string parameter, long row)
    {
        if (embedding.Length == 0)
            throw new ArgumentException($"Row {row}: embedding column '{columnName}' is empty; a cosine needs at least one value.", parameter);
        if (Array.TrueForAll(embedding, v => v == 0))
        {
            throw new ArgumentException(
                $"Row {row}: embedding column '{columnName}' is a zero vector, whose cosine with any vector is undefined; remove the row or embed its text again.",
                parameter);
        }
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
