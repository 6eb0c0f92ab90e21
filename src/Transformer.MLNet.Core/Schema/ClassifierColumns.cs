using Microsoft.ML.Data;
using Transformer.MLNet.Mapping;

namespace Transformer.MLNet.Schema;

/// <summary>
/// The columns a classifier or regressor adds, as ML.NET's trainers add them, and how a row of logits becomes their
/// values; shared by the TorchSharp transformers and the ONNX Runtime ones, so both give the same columns.
/// </summary>
internal static class ClassifierColumns
{
    /// <summary>Binary: <c>Score</c> (logit margin), <c>Probability</c> (its sigmoid), boolean <c>PredictedLabel</c>; each row's values are <see cref="BinaryFromLogits"/>.</summary>
    public static IReadOnlyList<OutputColumn> Binary(string score, string probability, string predictedLabel) =>
    [
        OutputColumn.Single(score, row => row[0], ScoreAnnotations.Binary("Score")),
        OutputColumn.Single(probability, row => row[1], ScoreAnnotations.Binary("Probability", isNormalized: true)),
        OutputColumn.Boolean(predictedLabel, row => row[0] > 0, ScoreAnnotations.Binary("PredictedLabel")),
    ];

    /// <summary>
    /// Multiclass: <c>Score</c> (class probabilities, slot names = class names, text) and key <c>PredictedLabel</c>
    /// (key values = the classes' key values, in their own item type); each row's values are <see cref="Softmax"/>.
    /// </summary>
    public static IReadOnlyList<OutputColumn> Multiclass(ClassKeyValues classes, string score, string predictedLabel) =>
    [
        OutputColumn.Vector(score, classes.Names.Count, ScoreAnnotations.MulticlassScore(classes.Names)),
        OutputColumn.Key(predictedLabel, new KeyDataViewType(typeof(uint), classes.Names.Count), ArgMaxKey,
            ScoreAnnotations.MulticlassPredictedLabel(classes)),
    ];

    /// <summary>Regression: one <c>Score</c>; each row's value is the first.</summary>
    public static IReadOnlyList<OutputColumn> Regression(string score) =>
        [OutputColumn.Single(score, row => row[0], ScoreAnnotations.Regression())];

    /// <summary>[margin, probability] from a binary classifier's two logits.</summary>
    public static float[] BinaryFromLogits(float[] logits)
    {
        float score = logits[1] - logits[0];
        return [score, 1f / (1f + MathF.Exp(-score))];
    }

    /// <summary>Class probabilities from logits.</summary>
    public static float[] Softmax(float[] logits)
    {
        float max = logits.Max();
        var probabilities = logits.Select(l => MathF.Exp(l - max)).ToArray();
        float sum = probabilities.Sum();
        for (int i = 0; i < probabilities.Length; i++)
            probabilities[i] /= sum;
        return probabilities;
    }

    // Keys are 1-based inside a data view; 0 would mean missing.
    private static uint ArgMaxKey(float[] probabilities)
    {
        int best = 0;
        for (int i = 1; i < probabilities.Length; i++)
        {
            if (probabilities[i] > probabilities[best])
                best = i;
        }

        return (uint)best + 1;
    }
}
