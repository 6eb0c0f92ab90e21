namespace Transformer.MLNet.Network.Training;

/// <summary>
/// Length-bucketed batches, the one batching rule of every trainer: shuffle the examples, sort windows of a few
/// batches by length so that each batch pads little, cut the windows into batches and shuffle the batches. Each epoch
/// still sees every example once in a random order of batches; only the padding shrinks.
/// </summary>
internal static class LengthBuckets
{
    /// <summary>Batches of example indices.</summary>
    /// <param name="items">The example indices to batch (not modified).</param>
    /// <param name="length">An example's sort key: its length (compose several lengths into one key for pairs).</param>
    /// <param name="batchSize">Examples per batch; the last batch of a window may be smaller.</param>
    /// <param name="windowBatches">Batches per sorted window: 1 is plain shuffling, larger pads less but mixes less.</param>
    /// <param name="random">The trainer's seeded generator.</param>
    public static int[][] Batches(IReadOnlyList<int> items, Func<int, long> length, int batchSize, int windowBatches, Random random)
    {
        ArgumentNullException.ThrowIfNull(items);
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(windowBatches, 1);
        int[] order = [.. items];
        random.Shuffle(order);
        var batches = order.Chunk((int)Math.Min((long)batchSize * windowBatches, int.MaxValue))
            .SelectMany(window => window.OrderBy(length).Chunk(batchSize))
            .ToArray();
        random.Shuffle(batches);
        return batches;
    }

}
