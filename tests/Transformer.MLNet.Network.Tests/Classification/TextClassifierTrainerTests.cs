using Transformer.MLNet.Examples.Data;
using Transformer.MLNet.Network.Bert;
using Transformer.MLNet.Network.Classification;
using Transformer.MLNet.Network.Configuration;
using Transformer.MLNet.Network.Pretrained;
using Transformer.MLNet.Network.Tokenization;
using Transformer.MLNet.Network.Training;

namespace Transformer.MLNet.Network.Tests.Classification;

/// <summary>The training loop on real sentences with a from-scratch BERT small enough to train in seconds.</summary>
[TestClass]
public sealed class TextClassifierTrainerTests
{
    private static BertTextTokenizer tokenizer = null!;
    private static string[] texts = null!;
    private static int[] labels = null!;

    private static TransformerConfig Tiny => TransformerConfig.MiniLmL6 with
    {
        Name = "TinyBert", VocabSize = tokenizer.VocabularySize, PadTokenId = tokenizer.PadTokenId,
        ModelDim = 32, Heads = 2, FeedForwardDim = 64, EncoderLayers = 1, MaxPositions = 64,
    };

    [ClassInitialize]
    public static void Initialize(TestContext context)
    {
        tokenizer = BertTextTokenizer.FromVocabulary(new MemoryStream(MiniLmPackage.ReadResource(MiniLmPackage.Locate(), MiniLmPackage.VocabularyResource)));
        var lines = File.ReadAllText(DataDirectory.Resolve("uci-sentiment-labelled-sentences", "yelp_labelled.txt"))
            .Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.TrimEnd('\r').Split('\t')).Take(160).ToArray();
        texts = lines.Select(l => l[0]).ToArray();
        labels = lines.Select(l => int.Parse(l[1].Trim(), System.Globalization.CultureInfo.InvariantCulture)).ToArray();
    }

    private static TextClassifier NewClassifier(int seed)
    {
        Seeding.Apply(seed);
        return TextClassifier.Create(new BertModel(Tiny), tokenizer, new TextClassifierSettings(2, 32, 0.1));
    }

    private static ClassifierTrainingOptions Options(int epochs) => new()
    {
        Epochs = epochs, BatchSize = 16, Seed = 1, ReportEvery = 2,
        Optimization = new ClassifierTrainingOptions().Optimization with { LearningRate = 2e-3 },
    };

    [TestMethod]
    public void Training_lowers_the_loss_and_reports_progress_to_the_last_step()
    {
        using var classifier = NewClassifier(1);
        var reports = new List<TrainingProgress>();
        // 64 sentences, 10 epochs at a high rate: a 1-layer model from scratch starts to fit them.
        var options = Options(10) with { Optimization = Options(10).Optimization with { LearningRate = 1e-2 } };
        var result = TextClassifierTrainer.Train(classifier, texts[..64], labels[..64], options with { Progress = new Collect(reports) });
        Assert.AreEqual(10, result.Epochs);
        Assert.IsLessThan(0.85 * result.TrainingLosses[0], result.TrainingLosses[^1], "the loss falls");
        Assert.IsGreaterThan(0.65, TextClassifierTrainer.Accuracy(classifier, texts[..64], labels[..64]), "the training sentences start to be fitted");
        Assert.HasCount(10, reports.Where(r => r.EpochCompleted).ToList());
        Assert.AreEqual(40, reports[^1].TotalSteps);
        Assert.AreEqual(40, reports[^1].Step);
        Assert.IsTrue(reports.Zip(reports.Skip(1)).All(p => p.Second.Step >= p.First.Step));
        Assert.IsTrue(reports.All(r => r.LearningRate is >= 0 and <= 1e-2 && r.ExamplesPerSecond > 0 && double.IsFinite(r.TrainLoss)));
        Assert.IsGreaterThan(reports[^1].LearningRate, reports[reports.Count / 2].LearningRate, "the learning rate decays after warmup");
    }

    [TestMethod]
    public void Same_seed_same_weights_and_saved_folders_reload_exactly()
    {
        using var a = NewClassifier(7);
        using var b = NewClassifier(7);
        TextClassifierTrainer.Train(a, texts, labels, Options(1));
        TextClassifierTrainer.Train(b, texts, labels, Options(1));
        var logitsA = a.PredictLogits(texts[..20]);
        var logitsB = b.PredictLogits(texts[..20]);
        for (int i = 0; i < 20; i++)
            CollectionAssert.AreEqual(logitsA[i], logitsB[i]);

        string folder = Path.Combine(Path.GetTempPath(), $"classifier-{Guid.NewGuid():N}");
        try
        {
            a.Save(folder);
            using var loaded = TextClassifier.Load(folder);
            var again = loaded.PredictLogits(texts[..20]);
            for (int i = 0; i < 20; i++)
                CollectionAssert.AreEqual(logitsA[i], again[i]);
            using var encoder = PretrainedBert.LoadFolder(folder);
            Assert.AreEqual(32, encoder.Config.ModelDim, "a saved classifier folder is also a Hugging Face encoder folder");
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [TestMethod]
    public void Validation_keeps_the_best_epoch_and_early_stopping_ends_the_run()
    {
        using var classifier = NewClassifier(3);
        var options = Options(6) with { Patience = 2, Optimization = Options(6).Optimization with { LearningRate = 5e-3 } };
        var result = TextClassifierTrainer.Train(classifier, texts[..120], labels[..120], options, texts[120..], labels[120..]);
        Assert.HasCount(result.Epochs, result.ValidationMetrics);
        int best = result.ValidationMetrics.Select((a, i) => (a, i)).OrderByDescending(p => p.a).ThenBy(p => p.i).First().i + 1;
        Assert.AreEqual(best, result.BestEpoch);
        Assert.AreEqual(result.ValidationMetrics[best - 1], TextClassifierTrainer.Accuracy(classifier, texts[120..], labels[120..]), 1e-12,
            "the weights of the best epoch are restored");
        if (result.Epochs < 6)
            Assert.AreEqual(2, result.Epochs - result.BestEpoch, "stops after 2 epochs without gain");
    }

    [TestMethod]
    public void Cancellation_stops_training_and_bad_labels_are_named()
    {
        using var classifier = NewClassifier(1);
        using var cancellation = new CancellationTokenSource();
        var progress = new Collect([], _ => cancellation.Cancel());
        Assert.ThrowsExactly<OperationCanceledException>(() =>
            TextClassifierTrainer.Train(classifier, texts, labels, Options(3) with { Progress = progress }, cancellation: cancellation.Token));

        int[] bad = [.. labels];
        bad[5] = 2;
        var error = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => TextClassifierTrainer.Train(classifier, texts, bad, Options(1)));
        StringAssert.Contains(error.Message, "row 5");
        Assert.ThrowsExactly<ArgumentException>(() => TextClassifierTrainer.Train(classifier, texts, labels, Options(0)));
    }

    private sealed class Collect(List<TrainingProgress> reports, Action<TrainingProgress>? then = null) : IProgress<TrainingProgress>
    {
        public void Report(TrainingProgress value)
        {
            reports.Add(value);
            then?.Invoke(value);
        }
    }
}
