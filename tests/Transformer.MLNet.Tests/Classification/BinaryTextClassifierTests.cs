using Microsoft.ML;
using Microsoft.ML.Data;
using Transformer.MLNet.Classification;
using Transformer.MLNet.Network.Classification;
using Transformer.MLNet.Network.Training;
using Transformer.MLNet.Persistence;

namespace Transformer.MLNet.Tests.Classification;

[TestClass]
public sealed class BinaryTextClassifierTests
{
    [TestMethod]
    [TestCategory("Slow")]
    public void Fine_tuning_MiniLM_on_yelp_beats_the_bar_and_the_pipeline_round_trips()
    {
        var mlContext = new MLContext(seed: 0);
        var messages = new List<string>();
        mlContext.Log += (_, e) => { lock (messages) messages.Add(e.Message); };
        var yelp = UciSentences.Read("yelp");
        var split = mlContext.Data.TrainTestSplit(mlContext.Data.LoadFromEnumerable(yelp), testFraction: 0.2, seed: 0);
        var train = mlContext.Data.TakeRows(split.TrainSet, 320);
        var reports = new List<TrainingProgress>();
        var options = new TextClassifierOptions
        {
            TextColumnName = "Clean", Epochs = 2, BatchSize = 16, MaxTokens = 48, LearningRate = 1e-4,
            Progress = new SynchronousProgress<TrainingProgress>(reports.Add),
        };
        var pipeline = mlContext.Transforms.Text.NormalizeText("Clean", nameof(SentenceRow.Text))
            .Append(mlContext.BinaryClassification.Trainers.TextClassifier(options))
            .Append(mlContext.Transforms.CopyColumns("Decision", "PredictedLabel"));

        // Estimator schema before Fit.
        var shape = pipeline.GetOutputSchema(TestSchemas.Shape(split.TrainSet.Schema));
        Assert.AreEqual(NumberDataViewType.Single, TestSchemas.Find(shape, "Score").ItemType);
        Assert.AreEqual(NumberDataViewType.Single, TestSchemas.Find(shape, "Probability").ItemType);
        Assert.AreEqual(BooleanDataViewType.Instance, TestSchemas.Find(shape, "PredictedLabel").ItemType);
        Assert.AreEqual(BooleanDataViewType.Instance, TestSchemas.Find(shape, "Decision").ItemType);

        var model = pipeline.Fit(train);

        // Transformer schema after Fit, and the stock evaluator.
        var scored = model.Transform(split.TestSet);
        Assert.AreEqual(NumberDataViewType.Single, scored.Schema["Score"].Type);
        Assert.AreEqual(NumberDataViewType.Single, scored.Schema["Probability"].Type);
        Assert.AreEqual(BooleanDataViewType.Instance, scored.Schema["PredictedLabel"].Type);
        var metrics = mlContext.BinaryClassification.Evaluate(scored);
        Assert.IsGreaterThan(0.85, metrics.Accuracy);
        Assert.IsGreaterThan(0.9, metrics.AreaUnderRocCurve);

        // Progress went to the callback and to mlContext.Log.
        Assert.HasCount(2, reports.Where(r => r.EpochCompleted).ToList());
        Assert.AreEqual(reports[^1].TotalSteps, reports[^1].Step);
        Assert.IsTrue(reports.All(r => r.LearningRate >= 0 && double.IsFinite(r.TrainLoss) && r.ExamplesPerSecond > 0));
        lock (messages)
            Assert.IsTrue(messages.Any(m => m.Contains("epoch 2/2", StringComparison.Ordinal)), "progress lines reach mlContext.Log");

        // Probability is the sigmoid of the score; the decision is score > 0.
        var rows = Scored(mlContext, scored);
        foreach (var row in rows)
        {
            Assert.AreEqual(1 / (1 + Math.Exp(-row.Score)), row.Probability, 1e-5);
            Assert.AreEqual(row.Score > 0, row.Decision);
        }

        // One-call save, load in a fresh context: identical predictions; PredictionEngine agrees.
        string path = Path.Combine(Path.GetTempPath(), $"binary-{Guid.NewGuid():N}.zip");
        try
        {
            mlContext.Model.SavePipeline(model, split.TrainSet.Schema, path);
            var fresh = new MLContext(seed: 42);
            var loaded = fresh.Model.LoadPipeline(path, out _);
            var again = Scored(fresh, loaded.Transform(split.TestSet));
            CollectionAssert.AreEqual(rows.Select(r => r.Score).ToArray(), again.Select(r => r.Score).ToArray());
            CollectionAssert.AreEqual(rows.Select(r => r.Decision).ToArray(), again.Select(r => r.Decision).ToArray());

            var engine = fresh.Model.CreatePredictionEngine<SentenceRow, Prediction>(loaded);
            for (int i = 0; i < 5; i++)
                Assert.AreEqual(rows[i].Score, engine.Predict(new SentenceRow { Text = rows[i].Text }).Score, 1e-4);
        }
        finally
        {
            File.Delete(path);
        }
    }

    /// <summary>Reads every needed column in one pass (each pass over a lazy view runs the network again).</summary>
    private static List<ScoredRow> Scored(MLContext mlContext, IDataView scored) =>
        mlContext.Data.CreateEnumerable<ScoredRow>(scored, reuseRowObject: false).ToList();

    [TestMethod]
    public void Estimator_rejects_labels_that_are_not_Boolean_and_names_the_fix()
    {
        var mlContext = new MLContext(seed: 0);
        var data = mlContext.Data.LoadFromEnumerable(UciSentences.Read("yelp").Take(20));
        var trainer = mlContext.BinaryClassification.Trainers.TextClassifier(labelColumnName: nameof(SentenceRow.Category));
        var error = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => trainer.GetOutputSchema(TestSchemas.Shape(data.Schema)));
        StringAssert.Contains(error.Message, "'Category'");
        StringAssert.Contains(error.Message, "Boolean");

        var missingText = mlContext.BinaryClassification.Trainers.TextClassifier(textColumnName: "Review");
        var missing = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => missingText.Fit(data));
        StringAssert.Contains(missing.Message, "'Review'");
    }

    public sealed class ScoredRow
    {
        public string Text { get; set; } = "";

        public float Score { get; set; }

        public float Probability { get; set; }

        public bool Decision { get; set; }
    }

    public sealed class Prediction
    {
        public float Score { get; set; }

        public bool PredictedLabel { get; set; }
    }

    /// <summary>Reports on the caller's thread (<see cref="Progress{T}"/> would post to the thread pool).</summary>
    private sealed class SynchronousProgress<T>(Action<T> report) : IProgress<T>
    {
        public void Report(T value) => report(value);
    }
}
