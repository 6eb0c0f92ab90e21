using Transformer.MLNet.Network.Training;

namespace Transformer.MLNet.Network.Tests.Training;

[TestClass]
public sealed class LengthBucketsTests
{
    [TestMethod]
    public void Every_example_once_per_epoch_in_batches_that_pad_less_than_shuffling()
    {
        // Lengths drawn like sentence-pair lengths: mostly short, a long tail.
        var random = new Random(7);
        int[] lengths = [.. Enumerable.Range(0, 1003).Select(_ => 8 + (int)(60 * Math.Pow(random.NextDouble(), 3)))];
        int[] items = [.. Enumerable.Range(0, lengths.Length).Select(i => i * 2)];  // any subset of indices
        var batches = LengthBuckets.Batches(items, i => lengths[i / 2], batchSize: 16, windowBatches: 8, new Random(1));

        // Each item exactly once; the plain shuffle's batch count; no batch over 16.
        CollectionAssert.AreEquivalent(items, batches.SelectMany(b => b).ToArray());
        Assert.HasCount((items.Length + 15) / 16, batches);
        Assert.IsTrue(batches.All(b => b.Length is >= 1 and <= 16));
        CollectionAssert.AreEqual(Enumerable.Range(0, lengths.Length).Select(i => i * 2).ToArray(), items, "the input is not reordered");

        // Padded tokens (each batch padded to its longest) against plain shuffled batches of the same size.
        long Padded(IEnumerable<int[]> bs) => bs.Sum(b => (long)b.Max(i => lengths[i / 2]) * b.Length);
        var shuffled = LengthBuckets.Batches(items, i => lengths[i / 2], batchSize: 16, windowBatches: 1, new Random(1));
        long real = lengths.Sum(l => (long)l);
        Assert.IsLessThan(real * 1.3, (double)Padded(batches), $"bucketed: {Padded(batches)} padded tokens for {real} real");
        Assert.IsGreaterThan(real * 2.0, (double)Padded(shuffled), $"shuffled: {Padded(shuffled)} padded tokens for {real} real");

        // Seeded: the same generator state gives the same batches; the next epoch draws a different order.
        var again = LengthBuckets.Batches(items, i => lengths[i / 2], 16, 8, new Random(1));
        Assert.IsTrue(batches.Zip(again).All(p => p.First.SequenceEqual(p.Second)));
        var shared = new Random(1);
        var first = LengthBuckets.Batches(items, i => lengths[i / 2], 16, 8, shared);
        var second = LengthBuckets.Batches(items, i => lengths[i / 2], 16, 8, shared);
        Assert.IsFalse(first.Zip(second).All(p => p.First.SequenceEqual(p.Second)));
    }

    [TestMethod]
    public void A_batch_size_up_to_int_MaxValue_gives_one_batch_of_everything()
    {
        int[] items = [.. Enumerable.Range(0, 10)];
        foreach (int batchSize in new[] { 1 << 30, int.MaxValue })
        {
            Assert.AreEqual(1, TrainingTask.BatchCount(items.Length, batchSize), $"batch size {batchSize}");
            var batches = LengthBuckets.Batches(items, i => i, batchSize, windowBatches: 8, new Random(2));
            Assert.HasCount(1, batches, $"batch size {batchSize}");
            CollectionAssert.AreEquivalent(items, batches[0]);
        }

        Assert.AreEqual(int.MaxValue, TrainingTask.BatchCount(int.MaxValue, 1));
        Assert.AreEqual(0, TrainingTask.BatchCount(0, int.MaxValue));
        Assert.AreEqual(13, TrainingTask.BatchCount(103, 8));
    }
}
