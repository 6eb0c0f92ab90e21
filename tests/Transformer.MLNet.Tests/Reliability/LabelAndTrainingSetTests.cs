using Microsoft.ML;
using Microsoft.ML.Data;
using Transformer.MLNet.Classification;
using Transformer.MLNet.Network.Embeddings;
using Transformer.MLNet.Tests.Classification;

namespace Transformer.MLNet.Tests.Reliability;

/// <summary>Missing, NaN, mistyped and unseen labels; empty and single-class training sets; options out of range.</summary>
[TestClass]
public sealed class LabelAndTrainingSetTests
{
    private static List<SentenceRow> yelp = null!;

    [ClassInitialize]
    public static void Initialize(TestContext context) => yelp = UciSentences.Read("yelp");

    private static T Expect<T>(Action action, params string[] fragments) where T : Exception
    {
        var error = Assert.Throws<T>(action);
        foreach (string fragment in fragments)
            StringAssert.Contains(error.Message, fragment);
        return error;
    }

    public sealed class NumericLabelRow
    {
        public string Text { get; set; } = "";

        public float Label { get; set; }
    }

    [TestMethod]
    [TestCategory("Reliability")]
    public void A_label_column_of_the_wrong_type_or_missing_is_named_with_the_fix()
    {
        var mlContext = new MLContext(seed: 1);
        var numeric = mlContext.Data.LoadFromEnumerable(yelp.Take(40).Select(r => new NumericLabelRow { Text = r.Text, Label = r.Label ? 1 : 0 }).ToList());
        var binary = mlContext.BinaryClassification.Trainers.TextClassifier(TinyScratch.Options());
        Expect<ArgumentOutOfRangeException>(() => binary.Fit(numeric), "Label column 'Label' must be Boolean", "Single");
        Expect<ArgumentOutOfRangeException>(() => binary.GetOutputSchema(TestSchemas.Shape(numeric.Schema)), "scalar Boolean");

        var text = mlContext.Data.LoadFromEnumerable(yelp.Take(40).ToList());
        var multiclass = mlContext.MulticlassClassification.Trainers.TextClassifier(TinyScratch.Options(labelColumnName: nameof(SentenceRow.Category)));
        Expect<ArgumentOutOfRangeException>(() => multiclass.Fit(text), "'Category'", "MapValueToKey(\"Category\")");

        var missing = mlContext.BinaryClassification.Trainers.TextClassifier(TinyScratch.Options(labelColumnName: "Sentiment"));
        Expect<ArgumentOutOfRangeException>(() => missing.Fit(text), "'Sentiment'", "not in the data", "Columns: Text, Label, Category");
    }

    [TestMethod]
    [TestCategory("Reliability")]
    public void Training_in_bfloat16_warns_in_the_MLContext_log_on_a_CPU_without_bfloat16_instructions()
    {
        var mlContext = new MLContext(seed: 1);
        var log = new Infrastructure.LogWarnings(mlContext);
        var data = mlContext.Data.LoadFromEnumerable(yelp.Take(32).ToList());
        var options = TinyScratch.Options(seed: 1);
        options.Precision = Network.Training.TrainingPrecision.BFloat16;
        mlContext.BinaryClassification.Trainers.TextClassifier(options).Fit(data).Dispose();
        var warnings = log.Snapshot();
        bool warned = warnings.Any(w => w.Contains("Precision = BFloat16 asks for bfloat16", StringComparison.Ordinal));
        Assert.AreEqual(!Network.Runtime.CpuFeatures.HasNativeBFloat16, warned, string.Join(" | ", warnings));
    }

    [TestMethod]
    [TestCategory("Reliability")]
    public void A_diverging_run_names_the_options_that_help_and_SkipNonFiniteBatches_goes_on_with_a_warning()
    {
        using var oneThread = IntraOpThreads.UseOne();
        var mlContext = new MLContext(seed: 1);
        var messages = new List<string>();
        mlContext.Log += (_, e) => { lock (messages) messages.Add(e.Message); };
        var data = mlContext.Data.LoadFromEnumerable(yelp.Take(48).ToList());
        var options = TinyScratch.Options(seed: 1);
        options.LearningRate = 1e30;
        var error = Expect<ArithmeticException>(() => mlContext.BinaryClassification.Trainers.TextClassifier(options).Fit(data),
            "Lower LearningRate (now 1E+30)", "set SkipNonFiniteBatches");
        Assert.DoesNotContain("TrainingOptions.", error.Message);

        options.SkipNonFiniteBatches = true;
        mlContext.BinaryClassification.Trainers.TextClassifier(options).Fit(data);
        lock (messages)
        {
            Assert.IsTrue(messages.Any(m => m.Contains("SkipNonFiniteBatches dropped", StringComparison.Ordinal)
                && m.Contains("micro-batches whose loss or gradients were NaN or infinite", StringComparison.Ordinal)), "the dropped batches are reported");
        }
    }

    [TestMethod]
    [TestCategory("Reliability")]
    public void NaN_labels_are_skipped_and_counted_and_training_proceeds()
    {
        using var oneThread = IntraOpThreads.UseOne();
        var mlContext = new MLContext(seed: 1);
        var messages = new List<string>();
        mlContext.Log += (_, e) => { lock (messages) messages.Add(e.Message); };
        var rows = yelp.Take(120).Select((r, i) => new NumericLabelRow { Text = r.Text, Label = i % 6 == 0 ? float.NaN : r.Label ? 1 : 0 }).ToList();
        var data = mlContext.Data.LoadFromEnumerable(rows);
        var model = mlContext.Transforms.Conversion.MapValueToKey("Label")
            .Append(mlContext.MulticlassClassification.Trainers.TextClassifier(TinyScratch.Options(seed: 1)))
            .Fit(data);
        var scores = model.Transform(data).GetColumn<float[]>("Score").ToArray();
        Assert.IsTrue(scores.All(s => s.Length == 2 && s.All(float.IsFinite)), "NaN is not a class: two classes remain");
        lock (messages)
            Assert.IsTrue(messages.Any(m => m.Contains("Skipped 20 rows with a missing label in column 'Label'", StringComparison.Ordinal)), "the skipped rows are reported");

        var allNaN = mlContext.Data.LoadFromEnumerable(rows.Select(r => new NumericLabelRow { Text = r.Text, Label = float.NaN }).ToList());
        Expect<ArgumentException>(() => mlContext.Transforms.Conversion.MapValueToKey("Label")
            .Append(mlContext.MulticlassClassification.Trainers.TextClassifier(TinyScratch.Options(seed: 1))).Fit(allNaN), "Label");
    }

    [TestMethod]
    [TestCategory("Reliability")]
    public void A_class_unseen_in_training_is_scored_as_a_known_class_and_evaluation_still_runs()
    {
        using var oneThread = IntraOpThreads.UseOne();
        var mlContext = new MLContext(seed: 1);
        var train = mlContext.Data.LoadFromEnumerable(yelp.Take(160).ToList());
        var imdb = UciSentences.Read("imdb").Take(20);
        var evaluation = mlContext.Data.LoadFromEnumerable(yelp.Skip(900).Take(40).Concat(imdb).ToList());
        var model = mlContext.Transforms.Conversion.MapValueToKey("Label", nameof(SentenceRow.Category))
            .Append(mlContext.MulticlassClassification.Trainers.TextClassifier(TinyScratch.Options(seed: 1)))
            .Append(mlContext.Transforms.Conversion.MapKeyToValue("PredictedCategory", "PredictedLabel"))
            .Fit(train);
        var scored = model.Transform(evaluation);
        var labels = scored.GetColumn<uint>("Label").ToArray();
        Assert.AreEqual(20, labels.Count(k => k == 0), "imdb categories were never seen: their key is missing");
        var predicted = scored.GetColumn<ReadOnlyMemory<char>>("PredictedCategory").Select(p => p.ToString()).ToArray();
        CollectionAssert.IsSubsetOf(predicted.Distinct().ToList(), new[] { "yelp-positive", "yelp-negative" }, "predictions are training classes");
        var metrics = mlContext.MulticlassClassification.Evaluate(scored);
        Assert.HasCount(2, metrics.PerClassLogLoss);
        Assert.IsTrue(double.IsFinite(metrics.MicroAccuracy));
    }

    [TestMethod]
    [TestCategory("Reliability")]
    public void Empty_and_single_class_training_sets_are_refused_with_the_reason()
    {
        var mlContext = new MLContext(seed: 1);
        var binary = mlContext.BinaryClassification.Trainers.TextClassifier(TinyScratch.Options());
        var empty = mlContext.Data.LoadFromEnumerable(new List<SentenceRow>());
        Expect<ArgumentException>(() => binary.Fit(empty), "no labelled rows in column 'Label'");
        var positives = mlContext.Data.LoadFromEnumerable(yelp.Where(r => r.Label).Take(30).ToList());
        Expect<ArgumentException>(() => binary.Fit(positives), "30 labelled training rows", "at least two classes");

        var oneCategory = mlContext.Data.LoadFromEnumerable(yelp.Where(r => !r.Label).Take(30).ToList());
        Expect<ArgumentException>(() => mlContext.Transforms.Conversion.MapValueToKey("Label", nameof(SentenceRow.Category))
            .Append(mlContext.MulticlassClassification.Trainers.TextClassifier(TinyScratch.Options())).Fit(oneCategory), "at least two classes");

        // A validation set keyed by its own mapping numbers the same classes in another order.
        var trainRows = yelp.Take(40).ToList();
        var validationRows = yelp.Skip(40).Take(20).OrderBy(r => r.Label == trainRows[0].Label).ToList();
        var trainMap = mlContext.Transforms.Conversion.MapValueToKey("Label", nameof(SentenceRow.Category)).Fit(mlContext.Data.LoadFromEnumerable(trainRows));
        var ownMap = mlContext.Transforms.Conversion.MapValueToKey("Label", nameof(SentenceRow.Category)).Fit(mlContext.Data.LoadFromEnumerable(validationRows));
        var multiclass = TinyScratch.Options();
        multiclass.ValidationSet = ownMap.Transform(mlContext.Data.LoadFromEnumerable(validationRows));
        Expect<ArgumentException>(() => mlContext.MulticlassClassification.Trainers.TextClassifier(multiclass)
            .Fit(trainMap.Transform(mlContext.Data.LoadFromEnumerable(trainRows))), "numbers its classes", "same fitted MapValueToKey");

        // Two classes, but the held-out validation part takes away the only example of one of them.
        var pair = mlContext.Data.LoadFromEnumerable(new List<SentenceRow> { yelp.First(r => r.Label), yelp.First(r => !r.Label) });
        var options = TinyScratch.Options();
        options.ValidationFraction = 0.5;
        Expect<ArgumentException>(() => mlContext.BinaryClassification.Trainers.TextClassifier(options).Fit(pair),
            "ValidationFraction = 0.5", "at least two classes");
    }

    [TestMethod]
    [TestCategory("Reliability")]
    public void Options_out_of_range_name_the_option_and_value()
    {
        var mlContext = new MLContext(seed: 1);
        var data = mlContext.Data.LoadFromEnumerable(yelp.Take(40).ToList());
        var cases = new (Action<TextClassifierOptions> Set, string Fragment)[]
        {
            (o => o.Epochs = 0, "Epochs = 0"),
            (o => o.BatchSize = 0, "BatchSize = 0"),
            (o => o.LearningRate = -1e-3, "LearningRate = -0.001"),
            (o => o.WarmupFraction = 2, "WarmupFraction = 2"),
            (o => o.WeightDecay = -1, "WeightDecay = -1"),
            (o => o.GradientAccumulationSteps = 0, "GradientAccumulationSteps = 0"),
            (o => o.MaxGradientNorm = double.NaN, "MaxGradientNorm = NaN"),
            (o => o.LabelSmoothing = 1, "LabelSmoothing = 1"),
            (o => o.MaxTokens = 1, "MaxTokens"),
            (o => o.MaxTokens = 1000, "MaxTokens (1000) exceeds the encoder's MaxPositions (64)"),
            (o => o.Dropout = 1, "Dropout"),
            (o => o.InferenceBatchSize = 0, "InferenceBatchSize"),
            (o => o.TextColumnName = "Review", "'Review' (TextColumnName) is not in the data"),
        };
        foreach (var (set, fragment) in cases)
        {
            var options = TinyScratch.Options();
            set(options);
            var error = Expect<ArgumentException>(() => mlContext.BinaryClassification.Trainers.TextClassifier(options).Fit(data), fragment);
            // Named as the user named it: no option of the network library's classes.
            Assert.DoesNotContain("TrainingOptions.", error.Message);
        }
    }
}
