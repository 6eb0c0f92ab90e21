using System.Diagnostics;
using TorchSharp;
using Transformer.MLNet.Examples.Data;
using Transformer.MLNet.Network.Configuration;
using Transformer.MLNet.Network.Embeddings;
using Transformer.MLNet.Network.Models;
using Transformer.MLNet.Network.Training;
using static TorchSharp.torch;

namespace Transformer.MLNet.Network.Tests.Models;

[TestClass]
[TestCategory("Learning")]
public sealed class LearningTests
{
    public TestContext TestContext { get; set; } = null!;

    private static readonly TransformerConfig ToyConfig = TransformerConfig.Tiny with { VocabSize = 16, MaxPositions = 32 };

    private static (EncoderDecoderModel Model, List<double> Losses) TrainToyTask(bool reverse, int steps, int seed)
    {
        using var threads = IntraOpThreads.UseOne();
        var random = Seeding.Apply(seed);
        var model = new EncoderDecoderModel(ToyConfig);
        model.train();
        var options = new TrainingOptions { LearningRate = 3e-3, WarmupSteps = 50, Decay = LearningRateDecay.Cosine, LabelSmoothing = 0, WeightDecay = 0 };
        using var updater = new ParameterUpdater(model, options, totalSteps: steps);
        var losses = new List<double>();
        for (int step = 0; step < steps; step++)
        {
            using var scope = NewDisposeScope();
            var (sourceIds, targetIds, _) = ToySequences.Batch(random, 64, 3, 10, 12, reverse);
            var source = tensor(sourceIds);
            var target = tensor(targetIds);
            var logits = model.forward(source, target[.., ..^1], model.PaddingMask(source));   // teacher forcing
            var loss = LabelSmoothedCrossEntropy.Compute(logits, target[.., 1..], options.LabelSmoothing, ToySequences.Pad);
            losses.Add(loss.ToDouble());
            updater.Backward(loss);
        }

        model.eval();
        return (model, losses);
    }

    private static double ExactMatch(EncoderDecoderModel model, bool reverse)
    {
        using var threads = IntraOpThreads.UseOne();
        var random = new Random(12345);
        int correct = 0, total = 0;
        for (int round = 0; round < 4; round++)
        {
            using var scope = NewDisposeScope();
            var (sourceIds, _, expected) = ToySequences.Batch(random, 64, 3, 10, 12, reverse);
            var decoded = ToySequences.GreedyDecode(model, tensor(sourceIds), 12);
            correct += decoded.Zip(expected).Count(p => p.First.SequenceEqual(p.Second));
            total += expected.Length;
        }

        return (double)correct / total;
    }

    [TestMethod]
    [DataRow(false, DisplayName = "copy")]
    [DataRow(true, DisplayName = "reverse")]
    public void Tiny_encoder_decoder_learns_the_task_to_exact_match(bool reverse)
    {
        var clock = Stopwatch.StartNew();
        var (model, losses) = TrainToyTask(reverse, steps: 400, seed: 5);
        double match = ExactMatch(model, reverse);
        TestContext.WriteLine($"{(reverse ? "reverse" : "copy")}: loss {losses[0]:F3} -> {losses[^1]:F4}, exact match {match:P1} on 256 new sequences, {clock.Elapsed.TotalSeconds:F1} s");
        Assert.AreEqual(1.0, match);
    }

    [TestMethod]
    public void Tiny_decoder_only_model_overfits_a_short_text()
    {
        using var threads = IntraOpThreads.UseOne();
        string text = File.ReadAllText(DataDirectory.Resolve("tiny-shakespeare", "input.txt"))[..256];
        var alphabet = text.Distinct().Order().ToArray();
        var ids = text.Select(c => (long)Array.IndexOf(alphabet, c)).ToArray();
        Seeding.Apply(8);
        var model = new DecoderOnlyModel(TransformerConfig.Tiny with { VocabSize = alphabet.Length, MaxPositions = 256, PreLayerNorm = true });
        model.train();
        var options = new TrainingOptions { LearningRate = 3e-3, WarmupSteps = 20, Decay = LearningRateDecay.Constant, LabelSmoothing = 0, WeightDecay = 0 };
        using var updater = new ParameterUpdater(model, options);
        using var data = tensor(ids).unsqueeze(0);                            // (1, 256)
        double first = 0, last = 0;
        for (int step = 0; step < 300; step++)
        {
            using var scope = NewDisposeScope();
            var logits = model.call(data[.., ..^1]);                           // predict token t + 1 from tokens ≤ t
            var loss = LabelSmoothedCrossEntropy.Compute(logits, data[.., 1..], 0);
            if (step == 0)
                first = loss.ToDouble();
            last = loss.ToDouble();
            updater.Backward(loss);
        }

        TestContext.WriteLine($"{alphabet.Length}-character alphabet, 255 next-character predictions: loss {first:F3} -> {last:F4}");
        Assert.IsLessThan(0.05, last);
    }

    [TestMethod]
    public void Same_seed_gives_identical_weights_and_loss_curve()
    {
        var (a, lossesA) = TrainToyTask(reverse: false, steps: 15, seed: 77);
        var (b, lossesB) = TrainToyTask(reverse: false, steps: 15, seed: 77);
        CollectionAssert.AreEqual(lossesA, lossesB);
        var weightsA = a.parameters().Select(p => p.data<float>().ToArray()).ToList();
        var weightsB = b.parameters().Select(p => p.data<float>().ToArray()).ToList();
        Assert.HasCount(weightsA.Count, weightsB);
        for (int i = 0; i < weightsA.Count; i++)
            CollectionAssert.AreEqual(weightsA[i], weightsB[i], $"parameter {i}");

        var (_, lossesC) = TrainToyTask(reverse: false, steps: 15, seed: 78);
        CollectionAssert.AreNotEqual(lossesA, lossesC, "another seed gives another run");
    }
}
