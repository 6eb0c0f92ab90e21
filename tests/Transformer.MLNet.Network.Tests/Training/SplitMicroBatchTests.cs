using Transformer.MLNet.Network.Modules;
using Transformer.MLNet.Network.Training;
using static TorchSharp.torch;

namespace Transformer.MLNet.Network.Tests.Training;

/// <summary>
/// Micro-batches computed as two halves on two threads (<see cref="SplitMicroBatch"/>): the same update as the whole
/// batch to float32 rounding, seeded runs that repeat bit for bit with dropout, non-finite halves skipped or reported
/// like whole batches, errors of either half reaching the caller, and no tensors left behind.
/// </summary>
[TestClass]
[TestCategory("Training")]
public sealed class SplitMicroBatchTests
{
    private sealed record LoopOptions : TrainingLoopOptions;

    [TestCleanup]
    public void ResetChoice() => SplitMicroBatch.Override = null;

    /// <summary>Three classes of 8 features through a small network with dropout; 5 micro-batches of 11 examples
    /// (halves of 5 and 6) under mean cross-entropy, with parts, as the text classifier gives them.</summary>
    private sealed class SmallTask(nn.Module<Tensor, Tensor> model, Tensor x, Tensor y, Func<int, int, int, Tensor, Tensor>? damage = null,
        IReadOnlyList<int>? lengths = null, System.Collections.Concurrent.ConcurrentBag<(int Start, int End)>? parts = null)
        : TrainingTask(model, exampleCount: 55, microBatchesPerEpoch: 5, metric: null)
    {
        public override IReadOnlyList<MicroBatch> Epoch(int epoch) =>
        [
            .. Enumerable.Range(0, 5).Select(b => new MicroBatch(11, () => Loss(b, 0, 11), (start, end) => Part(b, start, end), lengths)),
        ];

        private PartLoss Part(int batch, int start, int end)
        {
            parts?.Add((start, end));
            return new PartLoss(Loss(batch, start, end), end - start);
        }

        public override double Validate() => double.NaN;

        private Tensor Loss(int batch, int start, int end)
        {
            using var inputs = x[TensorIndex.Slice(batch * 11 + start, batch * 11 + end)];
            using var labels = y[TensorIndex.Slice(batch * 11 + start, batch * 11 + end)];
            using var logits = model.call(inputs);
            var loss = nn.functional.cross_entropy(logits, labels);
            return damage is null ? loss : damage(batch, start, end, loss);
        }
    }

    private static nn.Module<Tensor, Tensor> Network(double dropout)
    {
        manual_seed(3);
        return nn.Sequential(nn.Linear(8, 32), new InvertedDropout(dropout), nn.ReLU(), nn.Linear(32, 3));
    }

    private static (Tensor X, Tensor Y) Data()
    {
        var generator = new Generator(7);
        var x = randn([55, 8], generator: generator);
        var y = randint(0, 3, [55], generator: generator);
        return (x, y);
    }

    private static float[] Train(bool split, double dropout, int seed = 1, int accumulation = 1, bool skipNonFinite = false,
        Func<int, int, int, Tensor, Tensor>? damage = null, Action<TrainingResult>? inspect = null,
        IReadOnlyList<int>? lengths = null, System.Collections.Concurrent.ConcurrentBag<(int Start, int End)>? parts = null)
    {
        SplitMicroBatch.Override = split;
        using var scope = NewDisposeScope();
        var (x, y) = Data();
        using var model = Network(dropout);
        var options = new LoopOptions
        {
            Epochs = 3,
            Seed = seed,
            ReportEvery = 1000,
            Optimization = new TrainingOptions { LearningRate = 0.01, WarmupSteps = 0, AccumulationSteps = accumulation, SkipNonFiniteBatches = skipNonFinite },
        };
        var result = TrainingLoop.Run(new SmallTask(model, x, y, damage, lengths, parts), options, default);
        inspect?.Invoke(result);
        return [.. model.parameters().SelectMany(p => p.detach().contiguous().data<float>().ToArray())];
    }

    [TestMethod]
    [DataRow(1)]
    [DataRow(2)]
    public void Halves_without_dropout_update_the_weights_as_the_whole_batch_does(int accumulation)
    {
        var whole = Train(split: false, dropout: 0, accumulation: accumulation);
        long before = SplitMicroBatch.SplitCount;
        var halves = Train(split: true, dropout: 0, accumulation: accumulation);

        Assert.AreEqual(15, SplitMicroBatch.SplitCount - before, "every micro-batch of the 3 epochs was split");
        double largest = whole.Zip(halves).Max(p => Math.Abs(p.First - p.Second));
        Assert.IsLessThanOrEqualTo(1e-5, largest, "the halves' gradients add up to the whole batch's (sums in another order)");
        using var initial = Network(0);
        var untrained = initial.parameters().SelectMany(p => p.detach().contiguous().data<float>().ToArray()).ToArray();
        Assert.IsGreaterThan(1e-3, whole.Zip(untrained).Max(p => Math.Abs(p.First - p.Second)), "training moved the weights");
    }

    [TestMethod]
    public void A_split_by_token_counts_updates_the_weights_as_the_whole_batch_does()
    {
        // Eight one-token examples and three of nine: 8 + 3 examples are 8 and 27 padded tokens, the middle split's
        // 5 + 6 would be 5 and 54.
        int[] lengths = [1, 1, 1, 1, 1, 1, 1, 1, 9, 9, 9];
        var whole = Train(split: false, dropout: 0, lengths: lengths);
        var parts = new System.Collections.Concurrent.ConcurrentBag<(int Start, int End)>();
        var halves = Train(split: true, dropout: 0, lengths: lengths, parts: parts);

        CollectionAssert.AreEquivalent(new[] { (0, 8), (8, 11) }, parts.Distinct().ToArray(), "every micro-batch split after its eighth example");
        Assert.IsLessThanOrEqualTo(1e-5, whole.Zip(halves).Max(p => Math.Abs(p.First - p.Second)), "uneven halves weighted by their examples");
    }

    [TestMethod]
    public void The_split_balances_the_halves_padded_tokens()
    {
        Assert.AreEqual(5, SplitMicroBatch.FirstHalf(11), "without token counts, the middle");
        Assert.AreEqual(8, SplitMicroBatch.FirstHalf(16, [.. Enumerable.Repeat(12, 16)]), "equal lengths, the middle");
        Assert.AreEqual(1, SplitMicroBatch.FirstHalf(2, [3, 40]));
        Assert.AreEqual(8, SplitMicroBatch.FirstHalf(16, [1, 2, 3]), "token counts that do not match the examples are ignored");
        int[] sorted = [25, 26, 26, 26, 27, 27, 27, 28, 28, 28, 29, 30, 31, 35, 35, 37];
        Assert.AreEqual(9, SplitMicroBatch.FirstHalf(16, sorted), "9 × 28 = 252 against 7 × 37 = 259 padded tokens");
        Assert.AreEqual(7, SplitMicroBatch.FirstHalf(16, [.. sorted.Reverse()]), "the longest first: the mirror split");

        // Against every split, on batches of random lengths in any order: none leaves a smaller larger half.
        var random = new Random(4);
        for (int trial = 0; trial < 300; trial++)
        {
            int n = random.Next(2, 40);
            int[] lengths = [.. Enumerable.Range(0, n).Select(_ => random.Next(1, 513))];
            if (trial % 2 == 0)
                Array.Sort(lengths);
            long Larger(int first) => Math.Max((long)first * lengths[..first].Max(), (long)(n - first) * lengths[first..].Max());
            int chosen = SplitMicroBatch.FirstHalf(n, lengths);
            Assert.IsTrue(chosen >= 1 && chosen < n, $"both halves have examples ({chosen} of {n})");
            long best = Enumerable.Range(1, n - 1).Min(Larger);
            Assert.AreEqual(best, Larger(chosen), $"trial {trial}: {string.Join(",", lengths)}");
        }
    }

    [TestMethod]
    public void A_seeded_split_run_with_dropout_repeats_bit_for_bit()
    {
        var first = Train(split: true, dropout: 0.3, seed: 5);
        var again = Train(split: true, dropout: 0.3, seed: 5);
        var other = Train(split: true, dropout: 0.3, seed: 6);

        CollectionAssert.AreEqual(first, again, "the same seed gives the same masks and sums whichever thread finishes first");
        Assert.IsTrue(first.Zip(other).Any(p => p.First != p.Second), "another seed draws other masks");
    }

    [TestMethod]
    public void A_non_finite_half_skips_the_whole_micro_batch_or_stops_training()
    {
        // The second half of micro-batch 2 gives NaN in the first epoch.
        var calls = 0;
        Tensor Damage(int batch, int start, int end, Tensor loss) =>
            batch == 2 && start > 0 && Interlocked.Increment(ref calls) == 1 ? loss * double.NaN : loss;

        TrainingResult? result = null;
        var weights = Train(split: true, dropout: 0, skipNonFinite: true, damage: Damage, inspect: r => result = r);
        Assert.AreEqual(1, result!.SkippedBatches);
        Assert.IsTrue(weights.All(float.IsFinite), "no gradient of the skipped batch's finite half was applied with NaN");
        Assert.AreEqual(14, result.Steps, "15 micro-batches, one skipped");

        calls = 0;
        var error = Assert.ThrowsExactly<ArithmeticException>(() => Train(split: true, dropout: 0, damage: Damage));
        Assert.Contains("micro-batch 3 of 5", error.Message);
        Assert.Contains("NaN", error.Message);
    }

    [TestMethod]
    [DataRow(true)]
    [DataRow(false)]
    public void An_error_in_either_half_reaches_the_caller(bool inFirstHalf)
    {
        Tensor Damage(int batch, int start, int end, Tensor loss) =>
            batch == 1 && (start == 0) == inFirstHalf ? throw new InvalidOperationException("half failed") : loss;

        // On a task with a deadline, so that a helper left waiting at a barrier fails the test instead of hanging it.
        var run = Task.Run(() => Train(split: true, dropout: 0, damage: Damage));
        Assert.IsTrue(((IAsyncResult)run).AsyncWaitHandle.WaitOne(TimeSpan.FromMinutes(2)), "the failed step returned");
        var error = run.Exception?.InnerException;
        Assert.IsInstanceOfType<InvalidOperationException>(error);
        Assert.AreEqual("half failed", error.Message);
        // The loop is usable again afterwards: its helper thread did not stay blocked.
        Assert.IsTrue(Train(split: true, dropout: 0).All(float.IsFinite));
    }

    [TestMethod]
    public void Split_training_leaves_no_more_tensors_than_whole_batches()
    {
        // Counted after collecting garbage, so that handles other tests dropped without disposing, which finalizers
        // release whenever the collector runs, do not change the count in between.
        static long Live()
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
            return Tensor.TotalCount;
        }

        long Left(bool split)
        {
            Train(split, dropout: 0.3);
            long before = Live();
            Train(split, dropout: 0.3);
            return Live() - before;
        }

        long whole = Left(split: false), halves = Left(split: true);
        // A run leaves one managed handle per parameter whichever way it computes (not per step: 15 steps here).
        Assert.IsLessThanOrEqualTo(4L, whole);
        Assert.AreEqual(whole, halves, "the halves' losses, graphs and second-half gradients are all disposed");
    }
}
