using Transformer.MLNet.Mapping;
using Transformer.MLNet.Network.Classification;

namespace Transformer.MLNet.Classification;

/// <summary>Base of the fitted text classifiers: a fine-tuned network that scores a text column.</summary>
public abstract class TextClassificationTransformer : TextMappingTransformer
{
    private protected TextClassificationTransformer(
        TextClassifier classifier, string textColumnName, string scoreColumnName, string predictedLabelColumnName, int batchSize)
        : base(textColumnName, batchSize)
    {
        Classifier = classifier;
        ScoreColumnName = scoreColumnName;
        PredictedLabelColumnName = predictedLabelColumnName;
    }

    /// <summary>Name of the score column written.</summary>
    public string ScoreColumnName { get; }

    /// <summary>Name of the predicted label column written.</summary>
    public string PredictedLabelColumnName { get; }

    /// <summary>Number of classes.</summary>
    public int ClassCount => Classifier.ClassCount;

    internal TextClassifier Classifier { get; }

    internal override float[][] Map(IReadOnlyList<string> texts) => Classifier.PredictLogits(texts, BatchSize).Select(FromLogits).ToArray();

    /// <summary>The per-row values the output columns read, from one row of logits.</summary>
    internal abstract float[] FromLogits(float[] logits);

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        if (disposing)
            Classifier.Dispose();
    }
}
