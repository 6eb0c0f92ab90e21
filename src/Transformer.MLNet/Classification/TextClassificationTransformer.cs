using Transformer.MLNet.Mapping;
using Transformer.MLNet.Network.Classification;

namespace Transformer.MLNet.Classification;

/// <summary>Base of the fitted text classifiers and regressors: a fine-tuned network that scores a text column or a pair of text columns.</summary>
public abstract class TextClassificationTransformer : TextMappingTransformer
{
    private protected override string InputOptionName => "TextColumnName";

    private protected TextClassificationTransformer(
        TextClassifier classifier, string textColumnName, string? secondTextColumnName, string scoreColumnName, string predictedLabelColumnName,
        int batchSize)
        : base(textColumnName, batchSize)
    {
        if (classifier.Settings.Pairs != secondTextColumnName is not null)
        {
            throw new ArgumentException(classifier.Settings.Pairs
                ? "The network reads text pairs but no second text column is named."
                : $"The network reads single texts but a second text column ('{secondTextColumnName}') is named.", nameof(secondTextColumnName));
        }

        Classifier = classifier;
        SecondTextColumnName = secondTextColumnName;
        ScoreColumnName = scoreColumnName;
        PredictedLabelColumnName = predictedLabelColumnName;
    }

    /// <summary>The second text column of a model trained on text pairs, or null.</summary>
    public string? SecondTextColumnName { get; }

    /// <summary>Name of the score column written.</summary>
    public string ScoreColumnName { get; }

    /// <summary>Name of the predicted label column written.</summary>
    public string PredictedLabelColumnName { get; }

    /// <summary>
    /// Texts scored so far that had more than the trainer's <c>MaxTokens</c> tokens and were cut (the first tokens are
    /// kept). Empty text is scored as <c>[CLS] [SEP]</c>.
    /// </summary>
    public long TruncatedTextCount => Classifier.TruncatedTextCount;

    /// <summary>Number of classes.</summary>
    public int ClassCount => Classifier.ClassCount;

    internal TextClassifier Classifier { get; }

    internal override string? SecondInputColumnName => SecondTextColumnName;

    internal override IReadOnlyList<object> Map(IReadOnlyList<string> texts) => Classifier.PredictLogits(texts, BatchSize).Select(FromLogits).ToArray();

    internal override IReadOnlyList<object> MapPairs(IReadOnlyList<string> texts, IReadOnlyList<string> secondTexts) =>
        Classifier.PredictLogits(texts, secondTexts, BatchSize).Select(FromLogits).ToArray();

    /// <summary>The per-row values the output columns read, from one row of logits.</summary>
    internal abstract float[] FromLogits(float[] logits);

    private protected override Network.Export.OnnxExportManifest ExportOnnxCore(string folder) => Classifier.ExportOnnx(folder);

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        if (disposing)
            Classifier.Dispose();
    }
}
