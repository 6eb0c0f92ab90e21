using Microsoft.ML;
using Transformer.MLNet.Classification;
using Transformer.MLNet.Examples.Data;
using Transformer.MLNet.Tests.Classification;

namespace Transformer.MLNet.Tests.Similarity;

/// <summary>An STS Benchmark pair as ML.NET reads it: two sentences, the 0–5 rating and "similar" (rating ≥ 4).</summary>
public sealed class PairRow
{
    public string Sentence1 { get; set; } = "";

    public string Sentence2 { get; set; } = "";

    public float Label { get; set; }

    public bool Similar { get; set; }

    public static List<PairRow> Read(string split, int skip, int take) =>
        [.. StsBenchmark.Read(split).Skip(skip).Take(take).Select(p => new PairRow
        {
            Sentence1 = p.Sentence1, Sentence2 = p.Sentence2, Label = (float)p.Score, Similar = p.Score >= 4,
        })];
}

/// <summary>The column a regression adds, for <c>PredictionEngine</c>.</summary>
public sealed class ScorePrediction
{
    public float Score { get; set; }
}

/// <summary>A small cross-encoder (tiny scratch encoder on real STS-B pairs), fitted once and shared by the pair tests.</summary>
internal static class TinyPairModels
{
    private static readonly Lazy<(MLContext Context, List<PairRow> Test, TextRegressionTransformer Model)> Regression = new(() =>
    {
        var mlContext = new MLContext(seed: 1);
        var train = mlContext.Data.LoadFromEnumerable(PairRow.Read("train", 0, 400));
        var model = mlContext.Regression.Trainers.TextRegression(PairOptions(nameof(PairRow.Label))).Fit(train);
        return (mlContext, PairRow.Read("test", 0, 100), model);
    });

    public static MLContext Context => Regression.Value.Context;

    /// <summary>100 STS-B test pairs.</summary>
    public static List<PairRow> Test => Regression.Value.Test;

    public static TextRegressionTransformer CrossEncoder => Regression.Value.Model;

    public static TextClassifierOptions PairOptions(string label, int epochs = 1) => new()
    {
        LabelColumnName = label,
        TextColumnName = nameof(PairRow.Sentence1),
        SecondTextColumnName = nameof(PairRow.Sentence2),
        ScratchConfig = TinyScratch.Config,
        Epochs = epochs,
        BatchSize = 16,
        MaxTokens = 64,
        LearningRate = 1e-3,
        Seed = 1,
    };
}
