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
/// | PredictedLabel | Key&lt;UInt32, n&gt; with the label's KeyValues, in their own type | the most likely class; <c>MapKeyToValue</c> turns it back into the label's value |
///
/// The key values keep the item type of the training label's key values: after <c>MapValueToKey</c> on a
/// <c>float</c>, <c>int</c>, <c>bool</c>, ... label, <c>MapKeyToValue</c> on <c>PredictedLabel</c> gives back a
/// <c>float</c>, <c>int</c>, <c>bool</c>, ... as after ML.NET's own multiclass trainers. Text, Boolean and the
/// integer and floating-point types are kept; key values of another type (a date, say), or none, become text: the
/// class names, "1", "2", ... in the latter two cases. The slot names of <c>Score</c> are always text.
/// </remarks>
public sealed class MulticlassTextClassificationTransformer : TextClassificationTransformer
{
    internal MulticlassTextClassificationTransformer(
        TextClassifier classifier, ClassKeyValues classes, string textColumnName, string? secondTextColumnName, string scoreColumnName,
        string predictedLabelColumnName, int batchSize)
        : base(classifier, textColumnName, secondTextColumnName, scoreColumnName, predictedLabelColumnName, batchSize)
    {
        if (classes.Names.Count != classifier.ClassCount)
            throw new ArgumentException($"{classes.Names.Count} class names for a {classifier.ClassCount}-class network.", nameof(classes));
        KeyValues = classes;
        ClassNames = classes.Names.ToArray();
        OutputColumns = DefineOutputs(classes, scoreColumnName, predictedLabelColumnName);
    }

    /// <summary>The added columns; each row's values are the class probabilities.</summary>
    internal static IReadOnlyList<OutputColumn> DefineOutputs(ClassKeyValues classes, string score, string predictedLabel) =>
        ClassifierColumns.Multiclass(classes, score, predictedLabel);

    /// <summary>The class names, in key order (key 1 is the first): the text of each class's key value.</summary>
    public IReadOnlyList<string> ClassNames { get; }

    /// <summary>The key values of <c>PredictedLabel</c>, in the item type of the training label's key values.</summary>
    internal ClassKeyValues KeyValues { get; }

    internal override IReadOnlyList<OutputColumn> OutputColumns { get; }

    internal override float[] FromLogits(float[] logits) => ClassifierColumns.Softmax(logits);

    /// <summary>
    /// Exports with the class names in the settings, and key values that are not text with their type, so that a model
    /// run on ONNX Runtime predicts the same labels, of the same type.
    /// </summary>
    private protected override Network.Export.OnnxExportManifest ExportOnnxCore(string folder)
    {
        var manifest = Classifier.ExportOnnx(folder, ClassNames);
        if (KeyValues.IsText)
            return manifest;
        manifest = manifest with { LabelType = KeyValues.TypeName, LabelValues = [.. KeyValues.Format()] };
        Transformer.MLNet.Network.IO.AtomicFile.WriteAllText(Path.Combine(folder, Network.Export.OnnxExportManifest.FileName), manifest.ToJson());
        return manifest;
    }
}
