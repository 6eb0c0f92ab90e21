using Transformer.MLNet.Network.Training;

namespace Transformer.MLNet.Network.Tests.Training;

[TestClass]
public sealed class LearningRateScheduleTests
{
    [TestMethod]
    public void Warmup_rises_linearly_to_the_peak()
    {
        var schedule = new LearningRateSchedule(1e-3, WarmupSteps: 10, TotalSteps: 110, LearningRateDecay.Linear);
        Assert.AreEqual(1e-4, schedule.At(0), 1e-12);
        Assert.AreEqual(5e-4, schedule.At(4), 1e-12);
        Assert.AreEqual(1e-3, schedule.At(9), 1e-12);
    }

    [TestMethod]
    public void Linear_and_cosine_decay_reach_zero_at_the_last_step()
    {
        var linear = new LearningRateSchedule(1e-3, 10, 110, LearningRateDecay.Linear);
        var cosine = linear with { Decay = LearningRateDecay.Cosine };
        Assert.AreEqual(0.5e-3, linear.At(59), 1e-12);
        Assert.AreEqual(0.5e-3, cosine.At(59), 1e-12);
        Assert.AreEqual(0, linear.At(109), 1e-12);
        Assert.AreEqual(0, cosine.At(109), 1e-12);
        Assert.AreEqual(0, linear.At(500), 1e-12);
        Assert.IsGreaterThan(linear.At(30), cosine.At(30), "cosine stays higher than linear early in the decay");
    }

    [TestMethod]
    public void A_minimum_progress_moves_the_decay_on_but_never_back_or_into_warmup()
    {
        var linear = new LearningRateSchedule(1e-3, 10, 110, LearningRateDecay.Linear);
        Assert.AreEqual(0.75e-3, linear.At(14, minimumProgress: 0.25), 1e-12, "a quarter of the budget spent: 75% of the peak");
        Assert.AreEqual(linear.At(89), linear.At(89, minimumProgress: 0.1), 1e-12, "steps further on than the time: steps decide");
        Assert.AreEqual(0, linear.At(20, minimumProgress: 1), 1e-12);
        Assert.AreEqual(linear.At(3), linear.At(3, minimumProgress: 0.9), 1e-12, "warmup counts updates only");
    }

    [TestMethod]
    public void Paper_schedule_matches_equation_3()
    {
        const int modelDim = 512, warmup = 4000;
        var schedule = LearningRateSchedule.Paper(modelDim, warmup);
        foreach (long step in new long[] { 1, 100, 3999, 4000, 4001, 10_000, 100_000 })
        {
            double expected = Math.Pow(modelDim, -0.5) * Math.Min(Math.Pow(step, -0.5), step * Math.Pow(warmup, -1.5));
            Assert.AreEqual(expected, schedule.At(step - 1), expected * 1e-9, $"step {step}");
        }
    }

    [TestMethod]
    public void Invalid_schedule_names_the_field()
    {
        var error = Assert.ThrowsExactly<ArgumentException>(() => new LearningRateSchedule(0, 1, 10, LearningRateDecay.Linear).Validate());
        StringAssert.Contains(error.Message, "PeakLearningRate = 0");
        error = Assert.ThrowsExactly<ArgumentException>(() => new LearningRateSchedule(1e-3, -1, 10, LearningRateDecay.Linear).Validate());
        StringAssert.Contains(error.Message, "WarmupSteps = -1");
    }
}
