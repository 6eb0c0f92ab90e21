using Microsoft.ML;
using Transformer.MLNet.Classification;
using Transformer.MLNet.Tests.Classification;

namespace Transformer.MLNet.Tests.Reliability;

/// <summary>One small binary text classifier, fitted once on real sentences and shared by the reliability tests.</summary>
internal static class TinyPipelines
{
    private static readonly Lazy<(MLContext Context, IDataView Train, BinaryTextClassificationTransformer Model)> Binary = new(() =>
    {
        var mlContext = new MLContext(seed: 1);
        var train = mlContext.Data.LoadFromEnumerable(UciSentences.Read("yelp").Take(200).ToList());
        var model = mlContext.BinaryClassification.Trainers.TextClassifier(TinyScratch.Options(seed: 1)).Fit(train);
        return (mlContext, train, model);
    });

    public static MLContext Context => Binary.Value.Context;

    /// <summary>The 200 yelp rows the classifier was fitted on.</summary>
    public static IDataView TrainingData => Binary.Value.Train;

    public static BinaryTextClassificationTransformer BinaryModel => Binary.Value.Model;

    public static IDataView Rows(params string?[] texts) =>
        Context.Data.LoadFromEnumerable(texts.Select(t => new SentenceRow { Text = t! }).ToList());
}

/// <summary>The columns a binary classifier adds, for <c>PredictionEngine</c>.</summary>
public sealed class BinaryPrediction
{
    public float Score { get; set; }

    public float Probability { get; set; }

    public bool PredictedLabel { get; set; }
}
