using Microsoft.ML;
using Microsoft.ML.Data;
using Transformer.MLNet.Classification;
using Transformer.MLNet.Network.Evaluation;
using Transformer.MLNet.Network.Training;
using Transformer.MLNet.Persistence;
using Transformer.MLNet.Similarity;

namespace Transformer.MLNet.Tests.Similarity;

[TestClass]
public sealed class PairTests
{
    [TestMethod]
    public void Pair_classifier_on_stsb_pairs_works_with_the_stock_evaluator()
    {
        var mlContext = new MLContext(seed: 1);
        var train = mlContext.Data.LoadFromEnumerable(PairRow.Read("train", 0, 400));
        var test = mlContext.Data.LoadFromEnumerable(PairRow.Read("test", 0, 200));
        var trainer = mlContext.BinaryClassification.Trainers.TextClassifier(TinyPairModels.PairOptions(nameof(PairRow.Similar)));

        var shape = trainer.GetOutputSchema(TestSchemas.Shape(train.Schema));
        Assert.AreEqual(BooleanDataViewType.Instance, TestSchemas.Find(shape, "PredictedLabel").ItemType);
        using var model = trainer.Fit(train);
        Assert.AreEqual(nameof(PairRow.Sentence2), model.SecondTextColumnName);
        var scored = model.Transform(test);
        var metrics = mlContext.BinaryClassification.Evaluate(scored, nameof(PairRow.Similar));
        Assert.IsTrue(metrics.Accuracy is > 0 and <= 1 && double.IsFinite(metrics.LogLoss), $"accuracy {metrics.Accuracy}, log-loss {metrics.LogLoss}");

        // The model reads both texts: swapping in another pair's second sentence changes the score.
        var scores = scored.GetColumn<float>("Score").ToArray();
        var rows = PairRow.Read("test", 0, 200);
        var shifted = rows.Select((r, i) => new PairRow { Sentence1 = r.Sentence1, Sentence2 = rows[(i + 1) % rows.Count].Sentence2 }).ToList();
        var shiftedScores = model.Transform(mlContext.Data.LoadFromEnumerable(shifted)).GetColumn<float>("Score").ToArray();
        Assert.IsGreaterThan(150, scores.Zip(shiftedScores).Count(p => p.First != p.Second));
    }

    [TestMethod]
    public void Cross_encoder_scores_rank_predict_one_row_and_round_trip_identically()
    {
        var mlContext = TinyPairModels.Context;
        var model = TinyPairModels.CrossEncoder;
        var test = mlContext.Data.LoadFromEnumerable(TinyPairModels.Test);
        var scored = model.Transform(test);
        Assert.AreEqual(NumberDataViewType.Single, scored.Schema["Score"].Type);

        // The stock regression evaluator and the similarity evaluator accept the Score column.
        var regression = mlContext.Regression.Evaluate(scored, nameof(PairRow.Label), "Score");
        Assert.IsTrue(double.IsFinite(regression.RootMeanSquaredError) && regression.RootMeanSquaredError < 3, $"RMSE {regression.RootMeanSquaredError}");
        var similarity = mlContext.Regression.EvaluateSimilarity(scored, nameof(PairRow.Label), "Score");
        var scores = scored.GetColumn<float>("Score").ToArray();
        var gold = TinyPairModels.Test.Select(r => (double)r.Label).ToList();
        Assert.AreEqual(Correlation.Spearman([.. scores.Select(s => (double)s)], gold), similarity.Spearman, 1e-12);
        Assert.AreEqual(100, similarity.Count);
        // Standardised targets map back to the ratings' units: predictions sit inside a widened 0-5 range.
        Assert.IsTrue(scores.All(s => s is > -2 and < 7) && scores.Average() is > 1 and < 4, $"mean score {scores.Average()}");

        // PredictionEngine scores one row as the batch did.
        var engine = mlContext.Model.CreatePredictionEngine<PairRow, ScorePrediction>(model);
        for (int i = 0; i < 3; i++)
            Assert.AreEqual(scores[i], engine.Predict(TinyPairModels.Test[i]).Score, 1e-4f);

        // Rank orders candidates by the same scores.
        var query = TinyPairModels.Test[0].Sentence1;
        var candidates = TinyPairModels.Test.Take(10).Select(r => r.Sentence2).ToList();
        var ranked = model.Rank(query, candidates);
        Assert.HasCount(10, ranked);
        CollectionAssert.AreEquivalent(Enumerable.Range(0, 10).ToList(), ranked.Select(r => r.Index).ToList());
        for (int i = 1; i < ranked.Count; i++)
            Assert.IsGreaterThanOrEqualTo(ranked[i].Score, ranked[i - 1].Score);
        var direct = model.Transform(mlContext.Data.LoadFromEnumerable(candidates.Select(c => new PairRow { Sentence1 = query, Sentence2 = c }).ToList()))
            .GetColumn<float>("Score").ToArray();
        foreach (var r in ranked)
            Assert.AreEqual(direct[r.Index], r.Score, 1e-4f);
        Assert.HasCount(3, model.Rank(query, candidates, top: 3));
        // A blank candidate is refused as a blank second text is in the pipeline.
        var blank = Assert.ThrowsExactly<ArgumentException>(() => model.Rank(query, [candidates[0], " \t "]));
        Assert.Contains("Candidate 1", blank.Message);

        // Save -> load gives identical scores.
        using var stream = new MemoryStream();
        mlContext.Model.SavePipeline(model, test.Schema, stream);
        stream.Position = 0;
        var loaded = new MLContext(seed: 5).Model.LoadPipeline(stream, out _);
        CollectionAssert.AreEqual(scores, loaded.Transform(test).GetColumn<float>("Score").ToArray());
    }

    [TestMethod]
    public void Missing_second_texts_and_NaN_labels_are_errors_naming_the_column_and_row()
    {
        var mlContext = new MLContext(seed: 1);
        var rows = PairRow.Read("train", 0, 6);
        rows[3].Sentence2 = "";
        var error = Assert.ThrowsExactly<InvalidOperationException>(() =>
            mlContext.Regression.Trainers.TextRegression(TinyPairModels.PairOptions(nameof(PairRow.Label))).Fit(mlContext.Data.LoadFromEnumerable(rows)));
        StringAssert.Contains(error.Message, "Row 3");
        StringAssert.Contains(error.Message, "'Sentence2'");

        rows = PairRow.Read("train", 0, 6);
        rows[4].Label = float.NaN;
        error = Assert.ThrowsExactly<InvalidOperationException>(() =>
            mlContext.Regression.Trainers.TextRegression(TinyPairModels.PairOptions(nameof(PairRow.Label))).Fit(mlContext.Data.LoadFromEnumerable(rows)));
        StringAssert.Contains(error.Message, "Row 4");
        StringAssert.Contains(error.Message, "'Label'");

        // A missing second column is named before any data is read.
        var missing = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() =>
            mlContext.Regression.Trainers.TextRegression(new TextClassifierOptions { TextColumnName = "Sentence1", SecondTextColumnName = "Other" })
                .GetOutputSchema(TestSchemas.Shape(mlContext.Data.LoadFromEnumerable(rows).Schema)));
        StringAssert.Contains(missing.Message, "'Other'");

        // At prediction time too: a fitted pair model names the column and row.
        var test = TinyPairModels.Test.Take(5).Select(r => new PairRow { Sentence1 = r.Sentence1, Sentence2 = r.Sentence2 }).ToList();
        test[2].Sentence2 = null!;
        var scoring = Assert.ThrowsExactly<InvalidOperationException>(() =>
            TinyPairModels.CrossEncoder.Transform(TinyPairModels.Context.Data.LoadFromEnumerable(test)).GetColumn<float>("Score").ToArray());
        StringAssert.Contains(scoring.Message, "Row 2");
        StringAssert.Contains(scoring.Message, "'Sentence2'");

        // A second text of spaces alone is no text either, at training and at prediction.
        rows = PairRow.Read("train", 0, 6);
        rows[1].Sentence2 = " \t\n ";
        error = Assert.ThrowsExactly<InvalidOperationException>(() =>
            mlContext.Regression.Trainers.TextRegression(TinyPairModels.PairOptions(nameof(PairRow.Label))).Fit(mlContext.Data.LoadFromEnumerable(rows)));
        StringAssert.Contains(error.Message, "Row 1");
        StringAssert.Contains(error.Message, "'Sentence2'");
        test[2].Sentence2 = "   ";
        scoring = Assert.ThrowsExactly<InvalidOperationException>(() =>
            TinyPairModels.CrossEncoder.Transform(TinyPairModels.Context.Data.LoadFromEnumerable(test)).GetColumn<float>("Score").ToArray());
        StringAssert.Contains(scoring.Message, "Row 2");
    }

    [TestMethod]
    public void Symmetric_pairs_and_unrelated_pairings_change_what_the_cross_encoder_learns()
    {
        // Two short fine-tunings of the packaged MiniLM on the same 160 STS-B pairs: as given, and on both orders of
        // every pair plus one random pairing per pair labelled with the smallest rating.
        var mlContext = new MLContext(seed: 1);
        var train = mlContext.Data.LoadFromEnumerable(PairRow.Read("train", 0, 160));
        TextClassifierOptions Options() => new()
        {
            LabelColumnName = nameof(PairRow.Label), TextColumnName = nameof(PairRow.Sentence1), SecondTextColumnName = nameof(PairRow.Sentence2),
            Epochs = 1, BatchSize = 16, MaxTokens = 64, LearningRate = 8e-5, Seed = 1,
        };
        using var plain = mlContext.Regression.Trainers.TextRegression(Options()).Fit(train);
        var options = Options();
        options.SymmetricPairs = true;
        options.UnrelatedPairFraction = 1;
        var reports = new List<TrainingProgress>();
        options.Progress = new Collect(reports);
        using var augmented = mlContext.Regression.Trainers.TextRegression(options).Fit(train);

        // The epoch holds the 160 pairs, the 160 swapped pairs and 160 random pairings: 30 updates of 16 (plain: 10).
        Assert.AreEqual(30, reports[^1].TotalSteps);

        // Having seen random pairings rated 0, the model rates unrelated sentences lower, and further below the real pairs.
        var test = PairRow.Read("test", 0, 100);
        var unrelated = test.Select((r, i) => new PairRow { Sentence1 = r.Sentence1, Sentence2 = test[(i + 37) % test.Count].Sentence2 }).ToList();
        float[] Scores(ITransformer model, List<PairRow> rows) => [.. model.Transform(mlContext.Data.LoadFromEnumerable(rows)).GetColumn<float>("Score")];
        double plainGap = Scores(plain, test).Average() - Scores(plain, unrelated).Average();
        double augmentedGap = Scores(augmented, test).Average() - Scores(augmented, unrelated).Average();
        Assert.IsGreaterThan(plainGap + 1.0, augmentedGap, $"mean score of real minus unrelated pairs: plain {plainGap:F3}, augmented {augmentedGap:F3}");

        // Options that cannot apply are named before any data is read.
        var single = new TextClassifierOptions { TextColumnName = nameof(PairRow.Sentence1), LabelColumnName = nameof(PairRow.Label), SymmetricPairs = true };
        var error = Assert.ThrowsExactly<ArgumentException>(() => mlContext.Regression.Trainers.TextRegression(single));
        StringAssert.Contains(error.Message, "SymmetricPairs");
        StringAssert.Contains(error.Message, "SecondTextColumnName");
        var classifier = TinyPairModels.PairOptions(nameof(PairRow.Similar));
        classifier.UnrelatedPairFraction = 0.5;
        error = Assert.ThrowsExactly<ArgumentException>(() => mlContext.BinaryClassification.Trainers.TextClassifier(classifier));
        StringAssert.Contains(error.Message, "UnrelatedPairFraction = 0.5");
        options.UnrelatedPairFraction = double.NaN;
        error = Assert.Throws<ArgumentException>(() => mlContext.Regression.Trainers.TextRegression(options));
        StringAssert.Contains(error.Message, "UnrelatedPairFraction");
    }

    [TestMethod]
    public void Similarity_evaluator_correlates_scores_and_embedding_cosines_and_names_bad_labels()
    {
        var mlContext = new MLContext(seed: 1);
        var rows = new[]
        {
            new EmbeddedRow { Label = 0, Score = 0.1f, A = [1, 0], B = [0, 1] },
            new EmbeddedRow { Label = 2, Score = 0.3f, A = [1, 0], B = [1, 1] },
            new EmbeddedRow { Label = 5, Score = 0.2f, A = [1, 0], B = [1, 0.1f] },
        };
        var data = mlContext.Data.LoadFromEnumerable(rows);
        var byScore = mlContext.Regression.EvaluateSimilarity(data, "Label", "Score");
        Assert.AreEqual(0.5, byScore.Spearman, 1e-12);
        Assert.AreEqual(3, byScore.Count);
        var byCosine = mlContext.Regression.EvaluateSimilarity(data, "Label", "A", "B");
        Assert.AreEqual(1.0, byCosine.Spearman, 1e-12);

        rows[1].Label = float.NaN;
        var error = Assert.ThrowsExactly<InvalidOperationException>(() =>
            mlContext.Regression.EvaluateSimilarity(mlContext.Data.LoadFromEnumerable(rows), "Label", "Score"));
        StringAssert.Contains(error.Message, "Row 1");
        StringAssert.Contains(error.Message, "'Label'");
    }

    private sealed class Collect(List<TrainingProgress> reports) : IProgress<TrainingProgress>
    {
        public void Report(TrainingProgress value) => reports.Add(value);
    }

    private sealed class EmbeddedRow
    {
        public float Label { get; set; }

        public float Score { get; set; }

        [VectorType(2)]
        public float[] A { get; set; } = [];

        [VectorType(2)]
        public float[] B { get; set; } = [];
    }
}
