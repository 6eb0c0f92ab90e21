using Microsoft.ML;
using Microsoft.ML.Data;
using Transformer.MLNet.Classification;
using Transformer.MLNet.Persistence;
using Transformer.MLNet.Schema;

namespace Transformer.MLNet.Tests.Classification;

[TestClass]
public sealed class MulticlassTextClassifierTests
{
    private static readonly string[] Classes = ["imdb-negative", "imdb-positive", "yelp-negative", "yelp-positive"];

    [TestMethod]
    [TestCategory("Slow")]
    public void Fine_tuned_source_by_sentiment_classifier_feeds_the_stock_evaluator_with_class_names()
    {
        var mlContext = new MLContext(seed: 0);
        var rows = UciSentences.Read("yelp").Concat(UciSentences.Read("imdb")).ToList();
        var split = mlContext.Data.TrainTestSplit(mlContext.Data.LoadFromEnumerable(rows), testFraction: 0.2, seed: 0);
        var options = new TextClassifierOptions
        {
            LabelColumnName = "Label", TextColumnName = nameof(SentenceRow.Text), Epochs = 1, BatchSize = 16, MaxTokens = 48, LearningRate = 1.5e-4,
        };
        var pipeline = mlContext.Transforms.Conversion.MapValueToKey("Label", nameof(SentenceRow.Category))
            .Append(mlContext.MulticlassClassification.Trainers.TextClassifier(options))
            .Append(mlContext.Transforms.Conversion.MapKeyToValue("PredictedCategory", "PredictedLabel"));
        var model = pipeline.Fit(mlContext.Data.TakeRows(split.TrainSet, 640));

        var scored = model.Transform(split.TestSet);
        var metrics = mlContext.MulticlassClassification.Evaluate(scored);
        Assert.IsGreaterThan(0.65, metrics.MicroAccuracy);
        string table = metrics.ConfusionMatrix.GetFormattedConfusionTable();
        Console.WriteLine(table);
        foreach (string name in Classes)
            StringAssert.Contains(table, name);
        CollectionAssert.AreEquivalent(Classes, ScoreSlotNames(scored));

        var predicted = scored.GetColumn<string>("PredictedCategory").ToArray();
        Assert.IsTrue(predicted.All(Classes.Contains));
    }

    [TestMethod]
    public void Schemas_before_and_after_fit_carry_scores_slot_names_and_key_values()
    {
        var mlContext = new MLContext(seed: 0);
        var rows = UciSentences.Read("yelp").Take(60).Concat(UciSentences.Read("imdb").Take(60)).ToList();
        var data = mlContext.Data.LoadFromEnumerable(rows);
        var pipeline = mlContext.Transforms.Conversion.MapValueToKey("Label", nameof(SentenceRow.Category))
            .Append(mlContext.MulticlassClassification.Trainers.TextClassifier(TinyScratch.Options(seed: 1)))
            .Append(mlContext.Transforms.Conversion.MapKeyToValue("PredictedCategory", "PredictedLabel"));

        var shape = pipeline.GetOutputSchema(TestSchemas.Shape(data.Schema));
        var score = TestSchemas.Find(shape, "Score");
        Assert.AreEqual(SchemaShape.Column.VectorKind.Vector, score.Kind);
        Assert.IsTrue(TestSchemas.HasAnnotation(score, AnnotationNames.SlotNames));
        var predictedShape = TestSchemas.Find(shape, "PredictedLabel");
        Assert.IsTrue(predictedShape.IsKey);
        Assert.IsTrue(TestSchemas.HasAnnotation(predictedShape, AnnotationNames.KeyValues));
        Assert.AreEqual(TextDataViewType.Instance, TestSchemas.Find(shape, "PredictedCategory").ItemType);

        var model = pipeline.Fit(data);
        var scored = model.Transform(data);
        var scoreType = (VectorDataViewType)scored.Schema["Score"].Type;
        Assert.AreEqual(4, scoreType.Size);
        var keyType = (KeyDataViewType)scored.Schema["PredictedLabel"].Type;
        Assert.AreEqual(4UL, keyType.Count);
        var probabilities = scored.GetColumn<float[]>("Score").ToList();
        Assert.IsTrue(probabilities.All(p => Math.Abs(p.Sum() - 1) < 1e-4));
        var metrics = mlContext.MulticlassClassification.Evaluate(scored);
        Assert.AreEqual(4, metrics.ConfusionMatrix.NumberOfClasses);

        // Through a fresh context: identical outputs, MapValueToKey before and MapKeyToValue after included.
        using var stream = new MemoryStream();
        mlContext.Model.SavePipeline(model, data.Schema, stream);
        stream.Position = 0;
        var loaded = new MLContext(seed: 5).Model.LoadPipeline(stream, out _);
        var reloaded = loaded.Transform(data);
        var again = reloaded.GetColumn<float[]>("Score").ToList();
        for (int i = 0; i < probabilities.Count; i++)
            CollectionAssert.AreEqual(probabilities[i], again[i]);
        CollectionAssert.AreEqual(scored.GetColumn<string>("PredictedCategory").ToArray(), reloaded.GetColumn<string>("PredictedCategory").ToArray());
        CollectionAssert.AreEqual(ScoreSlotNames(scored), ScoreSlotNames(reloaded));
    }

    [TestMethod]
    public void A_label_that_is_not_a_key_is_rejected_with_the_fix()
    {
        var mlContext = new MLContext(seed: 0);
        var data = mlContext.Data.LoadFromEnumerable(UciSentences.Read("yelp").Take(10));
        var trainer = mlContext.MulticlassClassification.Trainers.TextClassifier(labelColumnName: nameof(SentenceRow.Category), textColumnName: nameof(SentenceRow.Text));
        var error = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => trainer.GetOutputSchema(TestSchemas.Shape(data.Schema)));
        StringAssert.Contains(error.Message, "MapValueToKey");
        var fitError = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => trainer.Fit(data));
        StringAssert.Contains(fitError.Message, "'Category'");
    }

    private static string[] ScoreSlotNames(IDataView scored)
    {
        VBuffer<ReadOnlyMemory<char>> names = default;
        scored.Schema["Score"].GetSlotNames(ref names);
        return names.DenseValues().Select(n => n.ToString()).ToArray();
    }
}
