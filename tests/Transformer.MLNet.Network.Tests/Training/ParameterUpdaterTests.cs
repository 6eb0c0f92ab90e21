using TorchSharp;
using TorchSharp.Modules;
using Transformer.MLNet.Network.Embeddings;
using Transformer.MLNet.Network.Training;
using static TorchSharp.torch;

namespace Transformer.MLNet.Network.Tests.Training;

[TestClass]
public sealed class ParameterUpdaterTests
{
    private static Sequential NewRegressor(int seed)
    {
        Seeding.Apply(seed);
        return nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 1));
    }

    private static (Tensor X, Tensor Y) Data()
    {
        Seeding.Apply(99);
        var x = randn(32, 4);
        var y = (x * tensor(new float[] { 1, -2, 0.5f, 3 })).sum(1, keepdim: true);
        return (x, y);
    }

    private static float[] Flatten(nn.Module model) =>
        model.parameters().SelectMany(p => p.to_type(ScalarType.Float32).data<float>().ToArray()).ToArray();

    [TestMethod]
    public void Two_accumulated_half_batches_equal_one_full_batch()
    {
        using var scope = NewDisposeScope();
        var (x, y) = Data();
        var options = new TrainingOptions { LearningRate = 1e-2, WarmupSteps = 0, Decay = LearningRateDecay.Constant, MaxGradientNorm = 0 };

        var full = NewRegressor(1);
        using (var updater = new ParameterUpdater(full, options))
            Assert.IsTrue(updater.Backward(nn.functional.mse_loss(full.call(x), y)));

        var halves = NewRegressor(1);
        using (var updater = new ParameterUpdater(halves, options with { AccumulationSteps = 2 }))
        {
            Assert.IsFalse(updater.Backward(nn.functional.mse_loss(halves.call(x[..16]), y[..16])));
            Assert.IsTrue(updater.Backward(nn.functional.mse_loss(halves.call(x[16..]), y[16..])));
            Assert.AreEqual(1L, updater.CompletedSteps);
        }

        var a = Flatten(full);
        var b = Flatten(halves);
        for (int i = 0; i < a.Length; i++)
            Assert.AreEqual(a[i], b[i], 1e-6f, $"weight {i}");
    }

    [TestMethod]
    public void Clipping_reports_the_norm_and_bounds_the_step()
    {
        using var scope = NewDisposeScope();
        var (x, y) = Data();
        var model = NewRegressor(2);
        var loss = nn.functional.mse_loss(model.call(x), y * 100);
        loss.backward();
        double expectedNorm = Math.Sqrt(model.parameters().Sum(p => p.grad!.pow(2).sum().ToDouble()));
        model.zero_grad();

        using var updater = new ParameterUpdater(model, new TrainingOptions { MaxGradientNorm = 0.5, WarmupSteps = 0 });
        updater.Backward(nn.functional.mse_loss(model.call(x), y * 100));
        Assert.AreEqual(expectedNorm, updater.LastGradientNorm, expectedNorm * 1e-4);
        Assert.IsGreaterThan(0.5, updater.LastGradientNorm);
    }

    [TestMethod]
    public void Weight_decay_skips_biases()
    {
        using var scope = NewDisposeScope();
        var model = nn.Linear(3, 2);
        var before = Flatten(model);
        var options = new TrainingOptions { LearningRate = 0.1, WeightDecay = 0.5, WarmupSteps = 0, Decay = LearningRateDecay.Constant, MaxGradientNorm = 0 };
        using var updater = new ParameterUpdater(model, options);
        // A zero loss gradient leaves only the decoupled decay: w ← w·(1 − lr·λ); biases untouched.
        updater.Backward((model.call(ones(1, 3)) * 0).sum());
        var after = Flatten(model);
        for (int i = 0; i < 6; i++)
            Assert.AreEqual(before[i] * (1 - 0.1 * 0.5), after[i], 1e-6);
        for (int i = 6; i < 8; i++)
            Assert.AreEqual(before[i], after[i], 1e-7);
    }

    [TestMethod]
    public void Gradients_are_released_after_an_update_and_unused_parameters_left_alone()
    {
        using var scope = NewDisposeScope();
        Seeding.Apply(5);
        var used = nn.Linear(3, 1);
        var unused = nn.Linear(3, 1);
        var model = nn.Sequential(("used", used), ("unused", unused));
        var options = new TrainingOptions { LearningRate = 0.1, WeightDecay = 0.5, WarmupSteps = 0, Decay = LearningRateDecay.Constant, MaxGradientNorm = 1 };
        using var updater = new ParameterUpdater(model, options);
        var x = ones(2, 3);

        // Both layers in the first update, then only one: as with PyTorch's zero_grad(set_to_none=True), a parameter
        // without a gradient gets no step, neither its moments' nor the weight decay.
        Assert.IsTrue(updater.Backward((used.call(x) + unused.call(x)).square().sum()));
        foreach (var parameter in model.parameters())
            Assert.IsNull(parameter.grad, "released, not zeroed");
        var unusedBefore = Flatten(unused);
        var usedBefore = Flatten(used);
        Assert.IsTrue(updater.Backward(used.call(x).square().sum()));
        CollectionAssert.AreEqual(unusedBefore, Flatten(unused), "no step for a parameter without a gradient");
        Assert.IsTrue(usedBefore.Zip(Flatten(used)).All(p => p.First != p.Second), "the used layer stepped");
        Assert.IsNull(used.weight!.grad);
    }

    [TestMethod]
    public void Bfloat16_training_keeps_float32_masters_and_learns()
    {
        using var threads = IntraOpThreads.UseOne();
        using var scope = NewDisposeScope();
        var (x, y) = Data();
        var model = NewRegressor(5);
        var options = new TrainingOptions { LearningRate = 1e-2, WarmupSteps = 5, Decay = LearningRateDecay.Constant, Precision = TrainingPrecision.BFloat16 };
        using var updater = new ParameterUpdater(model, options);
        Assert.IsTrue(model.parameters().All(p => p.dtype == ScalarType.BFloat16));

        double first = double.NaN, last = double.NaN;
        for (int step = 0; step < 300; step++)
        {
            using var stepScope = NewDisposeScope();
            var loss = nn.functional.mse_loss(model.call(x.to_type(ScalarType.BFloat16)).to_type(ScalarType.Float32), y);
            if (step == 0)
                first = loss.ToDouble();
            last = loss.ToDouble();
            updater.Backward(loss);
        }

        Assert.IsLessThan(first * 0.05, last, $"loss {first} -> {last}");
    }

    [TestMethod]
    public void Non_finite_loss_fails_with_advice()
    {
        using var scope = NewDisposeScope();
        var model = nn.Linear(2, 1);
        using var updater = new ParameterUpdater(model, new TrainingOptions());
        var error = Assert.ThrowsExactly<ArithmeticException>(() => updater.Backward(model.call(ones(1, 2)).sum() * float.NaN));
        StringAssert.Contains(error.Message, "LearningRate");
    }

    [TestMethod]
    public void Invalid_options_name_the_option()
    {
        var error = Assert.ThrowsExactly<ArgumentException>(() => new TrainingOptions { AccumulationSteps = 0 }.Validate());
        StringAssert.Contains(error.Message, "AccumulationSteps = 0");
    }

    [TestMethod]
    public void Same_seed_gives_same_random_numbers()
    {
        using var scope = NewDisposeScope();
        var random = Seeding.Apply(7);
        var a = randn(5).data<float>().ToArray();
        int na = random.Next();
        random = Seeding.Apply(7);
        var b = randn(5).data<float>().ToArray();
        CollectionAssert.AreEqual(a, b);
        Assert.AreEqual(na, random.Next());
    }
}
