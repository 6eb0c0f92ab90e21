using Transformer.MLNet.Network.Generation;
using Transformer.MLNet.Network.Models;
using Transformer.MLNet.Network.Training;
using static TorchSharp.torch;

namespace Transformer.MLNet.Network.Tests.Generation;

[TestClass]
[TestCategory("Training")]
public sealed class BudgetAndPrecisionTests
{
    private sealed class Recorder : IProgress<TrainingProgress>
    {
        public List<TrainingProgress> Reports { get; } = [];

        public void Report(TrainingProgress value)
        {
            lock (Reports)
                Reports.Add(value);
        }
    }

    private static (TrainingResult Summary, List<TrainingProgress> Reports, EncoderDecoderModel Model) Train(GenerativeTrainingOptions options)
    {
        Seeding.Apply(7);
        var model = new EncoderDecoderModel(SequenceTaskFixture.Config);
        var recorder = new Recorder();
        int threads = get_num_threads();
        set_num_threads(1);
        try
        {
            var summary = TranslationTrainer.Train(model, SequenceTaskFixture.Pairs(2000, 1, SequenceTaskFixture.Reverse),
                SequenceTaskFixture.Pairs(200, 2, SequenceTaskFixture.Reverse), options with { Progress = recorder, ReportEvery = 5 });
            return (summary, recorder.Reports, model);
        }
        finally
        {
            set_num_threads(threads);
        }
    }

    private static GenerativeTrainingOptions Options(TrainingPrecision precision = TrainingPrecision.Float32) => new()
    {
        Optimization = new TrainingOptions { LearningRate = 5e-3, WarmupSteps = 10, LabelSmoothing = 0.0, WeightDecay = 0.0, Precision = precision },
        BatchSize = 64,
        Patience = 0,
        Seed = 3,
    };

    [TestMethod]
    public void A_time_budget_decays_the_learning_rate_to_nearly_zero_by_the_end()
    {
        var budgeted = Options() with { Epochs = 1000, MaxSteps = 1_000_000, TimeBudget = TimeSpan.FromSeconds(4) };
        var (summary, reports, model) = Train(budgeted);
        using (model)
        {
            Assert.AreEqual("time budget", summary.StopReason);
            double last = reports.Last().LearningRate;
            Console.WriteLine($"{summary.Steps} updates in {summary.Elapsed.TotalSeconds:F1} s; last learning rate {last:E2} (peak 5e-3)");
            Assert.IsLessThan(5e-3 * 0.1, last, "the rate has decayed with the budget");
            Assert.IsTrue(reports.Select(r => r.LearningRate).Skip(3).Zip(reports.Select(r => r.LearningRate).Skip(4)).All(p => p.Second <= p.First + 1e-12),
                "after warmup the rate only falls");
        }

        var (plain, plainReports, plainModel) = Train(budgeted with { DecayWithinTimeBudget = false });
        using (plainModel)
        {
            Assert.AreEqual("time budget", plain.StopReason);
            Assert.IsGreaterThan(5e-3 * 0.9, plainReports.Last().LearningRate, "without it a long step schedule barely decays");
        }
    }

    [TestMethod]
    public void BFloat16_training_learns_and_returns_a_float32_model_with_the_master_weights()
    {
        var (summary, _, model) = Train(Options(TrainingPrecision.BFloat16) with { Epochs = 6 });
        using (model)
        {
            Assert.IsTrue(model.parameters().All(p => p.dtype == ScalarType.Float32), "the fitted model is float32 again");
            double loss = TranslationTrainer.Evaluate(model, SequenceTaskFixture.Pairs(200, 2, SequenceTaskFixture.Reverse));
            Console.WriteLine($"bfloat16: {summary}; float32 evaluation of the result {loss:F4}");
            Assert.IsLessThan(1.0, summary.BestValidationMetric, "random guessing is ln(16) = 2.77 nats");
            Assert.AreEqual(summary.BestValidationMetric, loss, 0.05, "the kept weights are the validated ones, in float32");
        }
    }
}
