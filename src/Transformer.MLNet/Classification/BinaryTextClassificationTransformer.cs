using Microsoft.ML;
using Microsoft.ML.Data;
using Transformer.MLNet.Mapping;
using Transformer.MLNet.Network.Classification;
using Transformer.MLNet.Schema;

namespace Transformer.MLNet.Classification;

/// <summary>
/// A fitted binary text classifier. Adds the three columns <c>mlContext.BinaryClassification.Evaluate</c> reads.
/// </summary>
/// <remarks>
/// | Output column | Type | Meaning |
/// |---|---|---|
/// | Score | Single | logit(positive) − logit(negative) |
/// | Probability | Single | sigmoid(Score), the softmax probability of the positive class |
/// | PredictedLabel | Boolean | Score &gt; 0 |
/// </remarks>
public sealed class BinaryTextClassificationTransformer : TextClassificationTransformer
{
    internal BinaryTextClassificationTransformer(
        TextClassifier classifier, string textColumnName, string? secondTextColumnName, string scoreColumnName, string probabilityColumnName,
        string predictedLabelColumnName, int batchSize)
        : base(classifier, textColumnName, secondTextColumnName, scoreColumnName, predictedLabelColumnName, batchSize)
    {
        if (classifier.ClassCount != 2)
            throw new ArgumentException($"A binary classifier needs a 2-class network, got {classifier.ClassCount} classes.", nameof(classifier));
        ProbabilityColumnName = probabilityColumnName;
        OutputColumns = DefineOutputs(scoreColumnName, probabilityColumnName, predictedLabelColumnName);
    }

    /// <summary>The added columns; each row's values are [score, probability].</summary>
    internal static IReadOnlyList<OutputColumn> DefineOutputs(string score, string probability, string predictedLabel) =>
        ClassifierColumns.Binary(score, probability, predictedLabel);

    /// <summary>Name of the probability column written.</summary>
    public string ProbabilityColumnName { get; }

    internal override IReadOnlyList<OutputColumn> OutputColumns { get; }

    internal override float[] FromLogits(float[] logits) => ClassifierColumns.BinaryFromLogits(logits);
}
