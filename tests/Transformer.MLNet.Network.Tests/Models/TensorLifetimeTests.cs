using TorchSharp;
using Transformer.MLNet.Network.Configuration;
using Transformer.MLNet.Network.Embeddings;
using Transformer.MLNet.Network.Models;
using Transformer.MLNet.Network.Training;
using static TorchSharp.torch;

namespace Transformer.MLNet.Network.Tests.Models;

[TestClass]
public sealed class TensorLifetimeTests
{
    private static long LiveTensors => DisposeScopeManager.Statistics.ThreadTotalLiveCount;

    [TestMethod]
    [DataRow(TrainingPrecision.Float32)]
    [DataRow(TrainingPrecision.BFloat16)]
    public void Live_tensor_count_returns_to_baseline_after_many_steps(TrainingPrecision precision)
    {
        using var threads = IntraOpThreads.UseOne();
        var random = Seeding.Apply(31);
        var model = new EncoderDecoderModel(TransformerConfig.Tiny with { Dropout = 0.1 });
        using var updater = new ParameterUpdater(model, new TrainingOptions { Precision = precision, AccumulationSteps = 2, WarmupSteps = 2 });
        void TrainStep()
        {
            using var scope = NewDisposeScope();
            var (sourceIds, targetIds, _) = ToySequences.Batch(random, 8, 3, 10, 12, reverse: false);
            var source = tensor(sourceIds);
            var target = tensor(targetIds);
            var logits = model.forward(source, target[.., ..^1], model.PaddingMask(source));
            updater.Backward(LabelSmoothedCrossEntropy.Compute(logits, target[.., 1..], 0.1, ToySequences.Pad));
        }

        void DecodeIncrementally()
        {
            using var scope = NewDisposeScope();
            using var noGrad = no_grad();
            var source = randint(3, 15, [2, 6], dtype: ScalarType.Int64);
            var memory = model.Encode(source);
            using var cache = model.NewCache();
            var next = ones(2, 1, ScalarType.Int64);
            for (int step = 0; step < 5; step++)
            {
                using var stepScope = NewDisposeScope();
                next = model.Project(model.Decode(next, memory, null, cache)).argmax(-1).MoveToOuterDisposeScope();
            }
        }

        // Optimizer state appears at the first update: take the baseline after it.
        TrainStep();
        TrainStep();
        long baseline = LiveTensors;
        long peak = baseline;
        for (int i = 0; i < 40; i++)
        {
            TrainStep();
            model.eval();
            DecodeIncrementally();
            model.train();
            peak = Math.Max(peak, LiveTensors);
        }

        Assert.AreEqual(baseline, LiveTensors, "every tensor made by a step must be freed with the step's scope");
        using (NewDisposeScope())
        {
            _ = model.Encode(ones(1, 3, ScalarType.Int64));
            Assert.IsGreaterThan(baseline, LiveTensors, "the counter does see tensors made inside a scope");
        }
    }
}
