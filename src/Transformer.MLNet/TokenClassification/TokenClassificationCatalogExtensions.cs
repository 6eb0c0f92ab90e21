using Microsoft.ML;
using Microsoft.ML.Data;
using Transformer.MLNet.Network.Metrics;
using Transformer.MLNet.Schema;

namespace Transformer.MLNet.TokenClassification;

/// <summary>The token classifier and its entity-level evaluation, under <c>mlContext.MulticlassClassification</c> as ML.NET's own named-entity recognizer.</summary>
public static class TokenClassificationCatalogExtensions
{
    /// <summary>Fine-tunes the pretrained MiniLM-L6 encoder to tag each word (IOB2) and find entities.</summary>
    /// <param name="catalog"><c>mlContext.MulticlassClassification.Trainers</c>.</param>
    /// <param name="labelColumnName">Vector of key tags, one per word (from <c>MapValueToKey</c>).</param>
    /// <param name="textColumnName">Raw text, or a vector of words.</param>
    /// <param name="epochs">Passes over the data.</param>
    public static TokenClassificationTrainer TokenClassifier(
        this MulticlassClassificationCatalog.MulticlassClassificationTrainers catalog,
        string labelColumnName = ScoreColumnNames.Label, string textColumnName = "Text", int epochs = 4) =>
        catalog.TokenClassifier(new TokenClassifierOptions { LabelColumnName = labelColumnName, TextColumnName = textColumnName, Epochs = epochs });

    /// <summary>Token classifier with every option (see <see cref="TokenClassifierOptions"/>).</summary>
    /// <param name="catalog"><c>mlContext.MulticlassClassification.Trainers</c>.</param>
    /// <param name="options">The options.</param>
    public static TokenClassificationTrainer TokenClassifier(
        this MulticlassClassificationCatalog.MulticlassClassificationTrainers catalog, TokenClassifierOptions options)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentNullException.ThrowIfNull(options);
        return new TokenClassificationTrainer(catalog.GetEnvironment(), options);
    }

    /// <summary>
    /// Entity-level precision, recall and F1 of predicted IOB2 tags against reference tags, counting exact spans as
    /// seqeval and conlleval do: an entity is correct only when its type, first word and last word all match. An
    /// <c>I-</c> tag that continues nothing begins an entity.
    /// </summary>
    /// <param name="catalog"><c>mlContext.MulticlassClassification</c>.</param>
    /// <param name="data">Rows with both tag columns.</param>
    /// <param name="labelColumnName">Reference tags: a vector of keys (with IOB2 key values) or of String.</param>
    /// <param name="predictedLabelColumnName">Predicted tags, the same kind of column.</param>
    /// <returns>Micro-averaged and per-type scores.</returns>
    public static EntityScores EvaluateEntities(
        this MulticlassClassificationCatalog catalog, IDataView data,
        string labelColumnName = ScoreColumnNames.Label, string predictedLabelColumnName = ScoreColumnNames.PredictedLabel)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentNullException.ThrowIfNull(data);
        var gold = TagColumn(data.Schema, labelColumnName, nameof(labelColumnName));
        var predicted = TagColumn(data.Schema, predictedLabelColumnName, nameof(predictedLabelColumnName));
        var goldRows = new List<IReadOnlyList<string>>();
        var predictedRows = new List<IReadOnlyList<string>>();
        using var cursor = data.GetRowCursor([gold.Column, predicted.Column]);
        var readGold = gold.Reader(cursor);
        var readPredicted = predicted.Reader(cursor);
        long row = -1;
        while (cursor.MoveNext())
        {
            row++;
            var g = readGold(row);
            var p = readPredicted(row);
            if (g.Length != p.Length)
            {
                throw new ArgumentException(
                    $"Row {row}: column '{labelColumnName}' has {g.Length} tags but column '{predictedLabelColumnName}' has {p.Length}; they must be one per word.", nameof(data));
            }

            goldRows.Add(g);
            predictedRows.Add(p);
        }

        try
        {
            return EntityScores.FromIob2(goldRows, predictedRows);
        }
        catch (ArgumentException e)
        {
            throw new ArgumentException($"The tags in '{labelColumnName}' or '{predictedLabelColumnName}' are not IOB2: {e.Message}", nameof(data), e);
        }
    }

    private sealed record Tags(DataViewSchema.Column Column, Func<DataViewRow, Func<long, string[]>> Reader);

    // A vector of IOB2 tags: keys named by their key values, or strings.
    private static Tags TagColumn(DataViewSchema schema, string name, string parameter)
    {
        var column = schema.GetColumnOrNull(name)
            ?? throw new ArgumentOutOfRangeException(parameter, $"Column '{name}' ({parameter}) is not in the data.");
        if (column.Type is VectorDataViewType { ItemType: TextDataViewType })
        {
            return new Tags(column, cursor =>
            {
                var getter = cursor.GetGetter<VBuffer<ReadOnlyMemory<char>>>(column);
                VBuffer<ReadOnlyMemory<char>> value = default;
                return _ =>
                {
                    getter(ref value);
                    return [.. value.DenseValues().Select(t => t.ToString())];
                };
            });
        }

        var label = TaggedSentences.FindLabel(schema, name, parameter);
        string[] names = ScoreAnnotations.ClassNames(label, (int)((KeyDataViewType)((VectorDataViewType)label.Type).ItemType).Count);
        return new Tags(column, cursor =>
        {
            var getter = cursor.GetGetter<VBuffer<uint>>(column);
            VBuffer<uint> value = default;
            return row =>
            {
                getter(ref value);
                var keys = value.DenseValues().ToArray();
                int missing = Array.IndexOf(keys, 0u);
                if (missing >= 0)
                {
                    throw new ArgumentException(
                        $"Row {row}: tag {missing} of column '{name}' is missing (key 0): a tag its key mapping does not know. " +
                        "Map reference tags with a MapValueToKey fitted on data that has every tag.", parameter);
                }

                return [.. keys.Select(k => names[k - 1])];
            };
        });
    }
}
