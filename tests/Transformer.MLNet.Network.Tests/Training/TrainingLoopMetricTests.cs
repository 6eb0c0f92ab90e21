using Transformer.MLNet.Network.Training;
using static TorchSharp.torch;

namespace Transformer.MLNet.Network.Tests.Training;

/// <summary>
/// Early stopping and best-weight selection with validation metrics that are not finite: a NaN or infinite metric is
/// recorded but never becomes the best, never replaces a finite best and never counts as an evaluation without gain.
/// </summary>
[TestClass]
[TestCategory("Training")]
public sealed class TrainingLoopMetricTests
{
    private sealed record LoopOptions : TrainingLoopOptions;

    /// <summary>One weight fitted to y = 2x; validation returns the given metrics in turn, one per epoch.</summary>
    private sealed class ScriptedTask(nn.Module model, double[] script)
        : TrainingTask(model, exampleCount: 4, microBatchesPerEpoch: 1, new ValidationMetric("score", HigherIsBetter: true))
    {
        private int next;

        public override IReadOnlyList<MicroBatch> Epoch(int epoch) =>
        [
            new MicroBatch(4, () =>
            {
                using var x = tensor(new float[] { 1, 2, 3, 4 }).reshape(4, 1);
                using var y = x * 2;
                using var prediction = ((nn.Module<Tensor, Tensor>)Model).call(x);
                return (prediction - y).pow(2).mean();
            }),
        ];

        public override double Validate() => script[next++];
    }

    private static TrainingResult Train(double[] script, int patience)
    {
        using var model = nn.Linear(1, 1);
        var task = new ScriptedTask(model, script);
        var options = new LoopOptions { Epochs = script.Length, Patience = patience, ReportEvery = 1, Seed = 1 };
        return TrainingLoop.Run(task, options, default);
    }

    [TestMethod]
    [DataRow(double.NaN)]
    [DataRow(double.PositiveInfinity)]
    [DataRow(double.NegativeInfinity)]
    public void A_non_finite_metric_neither_becomes_the_best_nor_uses_up_patience(double bad)
    {
        var result = Train([0.5, bad, bad, 0.7, 0.6], patience: 2);

        Assert.AreEqual("epochs", result.StopReason, "non-finite evaluations do not trigger early stopping");
        Assert.AreEqual(5, result.Epochs);
        Assert.HasCount(5, result.ValidationMetrics, "every evaluation is still recorded");
        Assert.AreEqual(0.7, result.BestValidationMetric);
        Assert.AreEqual(4, result.BestEpoch);
    }

    [TestMethod]
    public void A_first_nan_metric_does_not_stop_training_against_later_finite_ones()
    {
        var result = Train([double.NaN, 0.3, 0.4], patience: 1);

        Assert.AreEqual("epochs", result.StopReason);
        Assert.AreEqual(0.4, result.BestValidationMetric);
        Assert.AreEqual(3, result.BestEpoch);
    }

    [TestMethod]
    public void Only_nan_metrics_leave_no_best_and_the_last_weights()
    {
        var result = Train([double.NaN, double.NaN], patience: 1);

        Assert.AreEqual("epochs", result.StopReason);
        Assert.IsTrue(double.IsNaN(result.BestValidationMetric));
        Assert.AreEqual(2, result.BestEpoch, "without a finite evaluation the model keeps the last epoch's weights");
    }
}
