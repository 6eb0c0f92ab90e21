using Microsoft.ML;
using Microsoft.ML.Runtime;
using Transformer.MLNet.Schema;

namespace Transformer.MLNet.Classification;

/// <summary>The text classification trainers, next to ML.NET's own under <c>mlContext.*Classification.Trainers</c>.</summary>
public static class ClassificationCatalogExtensions
{
    /// <summary>Fine-tunes the pretrained MiniLM-L6 encoder with a classification head on a Boolean label.</summary>
    /// <param name="catalog"><c>mlContext.BinaryClassification.Trainers</c>.</param>
    /// <param name="labelColumnName">Boolean label column.</param>
    /// <param name="textColumnName">Text column.</param>
    /// <param name="epochs">Passes over the data.</param>
    /// <param name="maxTokens">Most tokens per text; short texts train much faster with a small value.</param>
    public static BinaryTextClassificationTrainer TextClassifier(
        this BinaryClassificationCatalog.BinaryClassificationTrainers catalog,
        string labelColumnName = ScoreColumnNames.Label, string textColumnName = "Text", int epochs = 4, int maxTokens = 64) =>
        catalog.TextClassifier(new TextClassifierOptions
        {
            LabelColumnName = labelColumnName, TextColumnName = textColumnName, Epochs = epochs, MaxTokens = maxTokens,
        });

    /// <summary>Binary text classifier with every option (see <see cref="TextClassifierOptions"/>).</summary>
    /// <param name="catalog"><c>mlContext.BinaryClassification.Trainers</c>.</param>
    /// <param name="options">The options.</param>
    public static BinaryTextClassificationTrainer TextClassifier(
        this BinaryClassificationCatalog.BinaryClassificationTrainers catalog, TextClassifierOptions options)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentNullException.ThrowIfNull(options);
        return new BinaryTextClassificationTrainer(catalog.GetEnvironment(), options);
    }

    /// <summary>Fine-tunes the pretrained MiniLM-L6 encoder with a classification head on a key label.</summary>
    /// <param name="catalog"><c>mlContext.MulticlassClassification.Trainers</c>.</param>
    /// <param name="labelColumnName">Key label column (from <c>MapValueToKey</c>).</param>
    /// <param name="textColumnName">Text column.</param>
    /// <param name="epochs">Passes over the data.</param>
    /// <param name="maxTokens">Most tokens per text.</param>
    public static MulticlassTextClassificationTrainer TextClassifier(
        this MulticlassClassificationCatalog.MulticlassClassificationTrainers catalog,
        string labelColumnName = ScoreColumnNames.Label, string textColumnName = "Text", int epochs = 4, int maxTokens = 64) =>
        catalog.TextClassifier(new TextClassifierOptions
        {
            LabelColumnName = labelColumnName, TextColumnName = textColumnName, Epochs = epochs, MaxTokens = maxTokens,
        });

    /// <summary>Multiclass text classifier with every option (see <see cref="TextClassifierOptions"/>).</summary>
    /// <param name="catalog"><c>mlContext.MulticlassClassification.Trainers</c>.</param>
    /// <param name="options">The options.</param>
    public static MulticlassTextClassificationTrainer TextClassifier(
        this MulticlassClassificationCatalog.MulticlassClassificationTrainers catalog, TextClassifierOptions options)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentNullException.ThrowIfNull(options);
        return new MulticlassTextClassificationTrainer(catalog.GetEnvironment(), options);
    }

    /// <summary>
    /// Fine-tunes the pretrained MiniLM-L6 encoder with a regression head on a Single label; with
    /// <paramref name="secondTextColumnName"/> it reads text pairs (a cross-encoder, e.g. for similarity or reranking).
    /// </summary>
    /// <param name="catalog"><c>mlContext.Regression.Trainers</c>.</param>
    /// <param name="labelColumnName">Single label column.</param>
    /// <param name="textColumnName">Text column (a pair's first text).</param>
    /// <param name="secondTextColumnName">A pair's second text column, or null for single texts.</param>
    /// <param name="epochs">Passes over the data.</param>
    /// <param name="maxTokens">Most tokens per text or pair.</param>
    public static TextRegressionTrainer TextRegression(
        this RegressionCatalog.RegressionTrainers catalog,
        string labelColumnName = ScoreColumnNames.Label, string textColumnName = "Text", string? secondTextColumnName = null, int epochs = 4,
        int maxTokens = 128) =>
        catalog.TextRegression(new TextClassifierOptions
        {
            LabelColumnName = labelColumnName, TextColumnName = textColumnName, SecondTextColumnName = secondTextColumnName, Epochs = epochs,
            MaxTokens = maxTokens,
        });

    /// <summary>Text regression with every option (see <see cref="TextClassifierOptions"/>).</summary>
    /// <param name="catalog"><c>mlContext.Regression.Trainers</c>.</param>
    /// <param name="options">The options.</param>
    public static TextRegressionTrainer TextRegression(this RegressionCatalog.RegressionTrainers catalog, TextClassifierOptions options)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentNullException.ThrowIfNull(options);
        return new TextRegressionTrainer(catalog.GetEnvironment(), options);
    }
}
