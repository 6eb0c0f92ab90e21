using Transformer.MLNet.Network.Classification;
using Transformer.MLNet.Network.Embeddings;
using Transformer.MLNet.Network.Generation;
using Transformer.MLNet.Network.Models;
using Transformer.MLNet.Network.Tests.Generation;
using Transformer.MLNet.Network.Tests.Reliability;
using Transformer.MLNet.Network.Tokenization;
using Transformer.MLNet.Network.Training;
using static TorchSharp.torch;

namespace Transformer.MLNet.Network.Tests.Training;

/// <summary>
/// Features of the one training loop seen through every task: translation and language modelling resume from a
/// checkpoint with the uninterrupted run's losses and weights; classifiers train in bfloat16 and within a time budget.
/// </summary>
[TestClass]
[TestCategory("Training")]
public sealed class TrainingLoopTests
{
    private sealed class Recorder(Action<TrainingProgress>? then = null) : IProgress<TrainingProgress>
    {
        public List<TrainingProgress> Reports { get; } = [];

        public void Report(TrainingProgress value)
        {
            Reports.Add(value);
            then?.Invoke(value);
        }
    }

    private static GenerativeTrainingOptions GenerativeOptions(TrainingPrecision precision = TrainingPrecision.Float32) => new()
    {
        Optimization = new TrainingOptions { LearningRate = 5e-3, WarmupSteps = 5, LabelSmoothing = 0.1, Precision = precision },
        Epochs = 3, BatchSize = 32, EvaluateEvery = 4, Patience = 0, Seed = 5, ReportEvery = 1,
    };

    private static Dictionary<string, float[]> Weights(nn.Module model) =>
        model.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.to_type(ScalarType.Float32).data<float>().ToArray());

    /// <summary>
    /// Trains once uninterrupted, once cancelled at <paramref name="cancelAtStep"/> with a checkpoint folder, then
    /// resumes in a differently initialised model, and checks the resumed run ends exactly where the uninterrupted one did.
    /// </summary>
    private static void AssertResumeRepeats(
        Func<int, nn.Module> create, Func<nn.Module, GenerativeTrainingOptions, CancellationToken, TrainingResult> train, int cancelAtStep,
        TrainingPrecision precision = TrainingPrecision.Float32)
    {
        using var threads = IntraOpThreads.UseOne();
        var full = new Recorder();
        TrainingResult expected;
        Dictionary<string, float[]> expectedWeights;
        using (var model = create(7))
        {
            expected = train(model, GenerativeOptions(precision) with { Progress = full }, default);
            expectedWeights = Weights(model);
        }

        string folder = Path.Combine(Path.GetTempPath(), $"loop-checkpoint-{Guid.NewGuid():N}");
        try
        {
            var options = GenerativeOptions(precision) with { CheckpointFolder = folder };
            using (var model = create(7))
            {
                using var cancellation = new CancellationTokenSource();
                var stopper = new Recorder(p =>
                {
                    if (p.Step == cancelAtStep)
                        cancellation.Cancel();
                });
                Assert.ThrowsExactly<OperationCanceledException>(() => train(model, options with { Progress = stopper }, cancellation.Token));
            }

            Assert.IsTrue(File.Exists(Path.Combine(folder, "progress.json")), "cancellation wrote a checkpoint");
            var resumedReports = new Recorder();
            using var resumed = create(99);
            var result = train(resumed, options with { Progress = resumedReports }, default);

            Assert.IsTrue(result.Resumed);
            Assert.AreEqual(expected.Steps, result.Steps);
            CollectionAssert.AreEqual(expected.TrainingLosses.ToList(), result.TrainingLosses.ToList(), "per-epoch training losses");
            CollectionAssert.AreEqual(expected.ValidationMetrics.ToList(), result.ValidationMetrics.ToList(), "validation losses");
            Assert.AreEqual(expected.BestValidationMetric, result.BestValidationMetric);
            Assert.IsGreaterThan((long)cancelAtStep, resumedReports.Reports[0].Step, "the resumed run starts after the checkpoint");
            foreach (var report in resumedReports.Reports)
            {
                var same = full.Reports.First(r => r.Step == report.Step && r.ValidationMetric == report.ValidationMetric && r.EpochCompleted == report.EpochCompleted);
                Assert.AreEqual(same.TrainLoss, report.TrainLoss, $"training loss reported at step {report.Step}");
            }

            foreach (var (name, values) in expectedWeights)
                CollectionAssert.AreEqual(values, Weights(resumed)[name], $"{name} differs");
            Assert.IsFalse(File.Exists(Path.Combine(folder, "progress.json")), "a completed run removes its checkpoint");
        }
        finally
        {
            if (Directory.Exists(folder))
                Directory.Delete(folder, recursive: true);
        }
    }

    private static void AssertTranslationResumeRepeats(TrainingPrecision precision)
    {
        var train = SequenceTaskFixture.Pairs(300, 1, SequenceTaskFixture.Reverse);
        var validation = SequenceTaskFixture.Pairs(40, 2, SequenceTaskFixture.Reverse);
        AssertResumeRepeats(
            seed =>
            {
                Seeding.Apply(seed);
                return new EncoderDecoderModel(SequenceTaskFixture.Config);
            },
            (model, options, token) => TranslationTrainer.Train((EncoderDecoderModel)model, train, validation, options, token),
            cancelAtStep: 14,   // in epoch 2 of 3, between evaluations
            precision);
    }

    [TestMethod]
    [TestCategory("Reliability")]
    public void A_translation_run_resumed_from_its_checkpoint_repeats_the_uninterrupted_losses_and_weights() =>
        AssertTranslationResumeRepeats(TrainingPrecision.Float32);

    /// <summary>The checkpoint holds the float32 master weights and their AdamW moments; the bfloat16 model is their rounding.</summary>
    [TestMethod]
    [TestCategory("Reliability")]
    public void A_bfloat16_translation_run_resumed_from_its_checkpoint_repeats_the_uninterrupted_losses_and_master_weights() =>
        AssertTranslationResumeRepeats(TrainingPrecision.BFloat16);

    [TestMethod]
    [TestCategory("Reliability")]
    public void A_language_model_run_resumed_from_its_checkpoint_repeats_the_uninterrupted_losses_and_weights()
    {
        var config = SequenceTaskFixture.Config with { MaxPositions = 16 };
        var random = new Random(3);
        int[] Stream(int length) => [.. Enumerable.Range(0, length).Select(i => GenerationTokenizer.SpecialTokenCount + ((i + random.Next(2)) % SequenceTaskFixture.Symbols))];
        int[] train = Stream(2400), validation = Stream(300);
        AssertResumeRepeats(
            seed =>
            {
                Seeding.Apply(seed);
                return new DecoderOnlyModel(config);
            },
            (model, options, token) => LanguageModelTrainer.Train((DecoderOnlyModel)model, train, validation, options with { BlockSize = 12 }, token),
            cancelAtStep: 9);
    }

    [TestMethod]
    public void A_classifier_trains_in_bfloat16_like_in_float32_and_ends_as_a_float32_model()
    {
        using var threads = IntraOpThreads.UseOne();
        var (texts, labels) = TinyClassifiers.Sentences("imdb", 160);
        TrainingResult Train(TrainingPrecision precision, out bool float32)
        {
            using var classifier = TinyClassifiers.New(5);
            var options = TinyClassifiers.Options(6) with
            {
                Optimization = TinyClassifiers.Options(6).Optimization with { Precision = precision },
            };
            var result = TextClassifierTrainer.Train(classifier, texts, labels, options);
            float32 = classifier.Model.parameters().All(p => p.dtype == ScalarType.Float32);
            return result;
        }

        var reference = Train(TrainingPrecision.Float32, out _);
        var bfloat16 = Train(TrainingPrecision.BFloat16, out bool endsFloat32);

        Assert.IsTrue(endsFloat32, "the trained classifier is float32 again");
        Assert.AreEqual(6, bfloat16.Epochs);
        Assert.IsLessThan(bfloat16.TrainingLosses[0], bfloat16.TrainingLosses[^1], "the training loss fell in bfloat16");
        Assert.AreNotEqual(reference.TrainingLosses[^1], bfloat16.TrainingLosses[^1], "the bfloat16 run really computed in bfloat16");
        Assert.AreEqual(reference.TrainingLosses[^1], bfloat16.TrainingLosses[^1], 0.03, "bfloat16 follows the float32 run");
    }

    [TestMethod]
    public void A_classifier_stops_at_its_time_budget_with_the_learning_rate_decayed()
    {
        using var threads = IntraOpThreads.UseOne();
        var (texts, labels) = TinyClassifiers.Sentences("imdb", 160);
        using var classifier = TinyClassifiers.New(5);
        // The loop's clock moves 100 ms per progress report (one per update and one per epoch): the 5 s budget is
        // about 45 updates on any machine.
        var clock = new ManualClock();
        var reports = new Recorder(_ => clock.Advance(TimeSpan.FromMilliseconds(100)));
        var options = TinyClassifiers.Options(10_000) with
        {
            TimeBudget = TimeSpan.FromSeconds(5), Progress = reports, WarmupFraction = null, Clock = clock,
            Optimization = TinyClassifiers.Options(1).Optimization with { WarmupSteps = 5 },
        };
        var result = TextClassifierTrainer.Train(classifier, texts, labels, options);

        Assert.AreEqual("time budget", result.StopReason);
        Assert.IsLessThan(10, result.Epochs, "stopped at the budget, not at the planned 10 000 epochs");
        Assert.IsGreaterThanOrEqualTo(TimeSpan.FromSeconds(5), result.Elapsed);
        // Without the budget the linear plan of 100 000 steps would still be at the peak.
        Assert.IsLessThan(2e-3 * 0.05, reports.Reports[^1].LearningRate, "the decay followed the budget, not the step plan");
    }
}
