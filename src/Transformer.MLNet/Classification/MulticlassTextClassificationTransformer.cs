using Microsoft.ML;
using Microsoft.ML.Data;
using Transformer.MLNet.Mapping;
using Transformer.MLNet.Network.Classification;
using Transformer.MLNet.Schema;

namespace Transformer.MLNet.Classification;

/// <summary>
/// A fitted multiclass text classifier. Adds the columns <c>mlContext.MulticlassClassification.Evaluate</c> reads.
/// </summary>
/// <remarks>
/// | Output column | Type | Meaning |
/// |---|---|---|
/// | Score | Vector&lt;Single, n&gt; with SlotNames = class names | softmax probability of each class |
/// | PredictedLabel | Key&lt;UInt32, n&gt; with KeyValues = class names (text) | the most likely class; <c>MapKeyToValue</c> turns it back into its name |
/// </remarks>
public sealed class MulticlassTextClassificationTransformer : TextClassificationTransformer
{
    internal MulticlassTextClassificationTransformer(
        TextClassifier classifier, IReadOnlyList<string> classNames, string textColumnName, string? secondTextColumnName, string scoreColumnName,
        string predictedLabelColumnName, int batchSize)
        : base(classifier, textColumnName, secondTextColumnName, scoreColumnName, predictedLabelColumnName, batchSize)
    {
        if (classNames.Count != classifier.ClassCount)
            throw new ArgumentException($"{classNames.Count} class names for a {classifier.ClassCount}-class network.", nameof(classNames));
        ClassNames = classNames.ToArray();
        OutputColumns = DefineOutputs(ClassNames, scoreColumnName, predictedLabelColumnName);
    }

    /// <summary>The added columns; each row's values are the class probabilities.</summary>
    internal static IReadOnlyList<OutputColumn> DefineOutputs(IReadOnlyList<string> classNames, string score, string predictedLabel) =>
        ClassifierColumns.Multiclass(classNames, score, predictedLabel);

    /// <summary>The class names, in key order (key 1 is the first).</summary>
    public IReadOnlyList<string> ClassNames { get; }

    internal override IReadOnlyList<OutputColumn> OutputColumns { get; }

    internal override float[] FromLogits(float[] logits) => ClassifierColumns.Softmax(logits);

    /// <summary>Exports with the class names in the settings, so that a model run on ONNX Runtime predicts the same labels.</summary>
    private protected override Network.Export.OnnxExportManifest ExportOnnxCore(string folder) => Classifier.ExportOnnx(folder, ClassNames);
}
