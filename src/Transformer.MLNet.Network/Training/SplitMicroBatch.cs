using System.Runtime.ExceptionServices;
using TorchSharp;
using TorchSharp.Modules;
using Transformer.MLNet.Network.Modules;
using static TorchSharp.torch;

namespace Transformer.MLNet.Network.Training;

/// <summary>
/// Computes a CPU micro-batch as two halves at once, each on its own thread with half the intra-op threads, instead of
/// the whole batch with all of them; the halves' means are weighted by their share of the items they average.
/// </summary>
/// <remarks>
/// <para>Why: libtorch runs every operation of a step as an OpenMP parallel region. With passive waiting (the default
/// <see cref="Runtime.TorchRuntime"/> sets, so that a second CPU-bound process is not starved by spinning threads) the
/// idle threads sleep between regions, and on virtual machines waking them is slow. On a 2-core Zen 4 EPYC, six
/// MiniLM-sized layers trained on 16 × 18 tokens took 175–178 ms per forward and backward on two intra-op threads, and
/// 130–147 ms as two halves on one thread each (130 ms with spinning threads, which lose most of their speed beside
/// another process). See docs/performance.md.</para>
/// <para>Exactness: at the first micro-batch of an update the gradients are empty, and both halves accumulate into
/// them at once (libtorch locks each parameter's accumulation): x + y and y + x are the same float, so the result does
/// not depend on which thread finishes first. Later micro-batches of an accumulated update keep a fixed order: the
/// calling thread back-propagates its half into the gradients, the other half is differentiated on its own
/// (<c>torch.autograd.grad</c>) and added afterwards, ((earlier micro-batches + first half) + second half). Dropout masks take their
/// seeds from a stream per half whose start is drawn from torch's generator on the calling thread
/// (<see cref="InvertedDropout.UseSeeds"/>), so a seeded run repeats exactly. A run that splits is not bit-identical
/// to one that does not (other masks, sums in another order); the expected gradient is the same.</para>
/// <para>Used only where the task gives <see cref="MicroBatch.Part"/>, the model is on the CPU, the micro-batch has at
/// least two examples and the process has at least two intra-op threads.</para>
/// </remarks>
internal sealed class SplitMicroBatch : IDisposable
{
    private readonly ParameterUpdater updater;
    private readonly IReadOnlyList<Parameter> parameters;
    private readonly int threadsPerHalf;
    private readonly Thread helper;
    private readonly SemaphoreSlim start = new(0);
    private readonly Barrier barrier = new(2);
    private volatile bool stopping;

    // The helper's half of the current micro-batch, set by the calling thread before it releases the helper.
    private Func<int, int, PartLoss>? part;
    private int from, to;
    private ulong helperSeed;

    // Written before the first barrier and only read after it: each half's mean loss and how many items it averages.
    private double mainValue, helperValue;
    private long mainItems, helperItems;
    private Exception? mainForwardError, helperForwardError;

    // Written before the second barrier.
    private Exception? mainBackwardError, helperBackwardError;
    private Tensor?[]? helperGradients;

    // Whether both halves accumulate into the gradients directly (see Step).
    private bool together;

    private SplitMicroBatch(ParameterUpdater updater, IReadOnlyList<Parameter> parameters, int threadsPerHalf)
    {
        this.updater = updater;
        this.parameters = parameters;
        this.threadsPerHalf = threadsPerHalf;
        helper = new Thread(HelperLoop) { IsBackground = true, Name = "Training half-batch" };
        helper.Start();
    }

    /// <summary>Forces the choice (tests): true splits wherever a task gives parts, even on one intra-op thread;
    /// false never splits; null decides by the rules above.</summary>
    internal static bool? Override { get; set; }

    /// <summary>Micro-batches computed in halves in this process (tests read it to see the split taken).</summary>
    internal static long SplitCount => Interlocked.Read(ref s_splits);

    private static long s_splits;

    /// <summary>A splitter for <paramref name="model"/>'s training through <paramref name="updater"/>, or null where
    /// splitting does not apply (a parameter off the CPU, fewer than two intra-op threads, or <see cref="Override"/> false).</summary>
    public static SplitMicroBatch? For(nn.Module model, ParameterUpdater updater)
    {
        if (!Applies || model.parameters().Any(p => p.device_type != DeviceType.CPU))
            return null;
        var trained = updater.TrainedParameters();
        return trained.Count == 0 ? null : new SplitMicroBatch(updater, trained, Math.Max(1, get_num_threads() / 2));
    }

    /// <summary>Whether CPU training on the calling thread splits micro-batches that have parts (see <see cref="Override"/>).</summary>
    internal static bool Applies => Override ?? get_num_threads() >= 2;

    /// <summary>
    /// The examples of a split micro-batch's first half (the rest are the second's): half of them, or, where the
    /// examples' token counts are known, the split that gives the halves the closest to equal work.
    /// </summary>
    /// <remarks>
    /// Each half is padded to its own longest example, so its work grows with its examples times that length. The two
    /// threads wait for each other after the forward and after the backward pass, so a step takes as long as the larger
    /// half. The trainers' batches are sorted by length, which leaves the longer examples in the second half: a batch of
    /// 16 sentences of 25–37 tokens split 8 + 8 is 224 against 296 padded tokens, split 9 + 7 it is 252 against 259.
    /// The split minimises the larger half's padded tokens (ties: the one nearer the middle). Over the first 60 batches
    /// of the yelp sentences' fine-tuning, the larger halves' padded tokens, with attention's quadratic term added, come
    /// to 2.6 % less than with the middle split; fine-tuning MiniLM there ran about 3 % faster (docs/performance.md).
    /// </remarks>
    /// <param name="examples">Examples in the micro-batch (at least 2).</param>
    /// <param name="lengths">Each example's token count, or null where unknown or equal.</param>
    internal static int FirstHalf(int examples, IReadOnlyList<int>? lengths = null)
    {
        int middle = examples / 2;
        if (lengths is null || lengths.Count != examples || examples < 3)
            return middle;
        var longestFrom = new int[examples + 1];
        for (int i = examples - 1; i >= 0; i--)
            longestFrom[i] = Math.Max(longestFrom[i + 1], lengths[i]);
        int chosen = middle, longestBefore = 0;
        long best = long.MaxValue;
        for (int first = 1; first < examples; first++)
        {
            longestBefore = Math.Max(longestBefore, lengths[first - 1]);
            long larger = Math.Max((long)first * longestBefore, (long)(examples - first) * longestFrom[first]);
            if (larger < best || (larger == best && Math.Abs(first - middle) < Math.Abs(chosen - middle)))
                (best, chosen) = (larger, first);
        }

        return chosen;
    }

    /// <summary>Whether <paramref name="batch"/> is computed in halves.</summary>
    public static bool Splits(MicroBatch batch) => batch.Part is not null && batch.Examples >= 2;

    /// <summary>
    /// Computes <paramref name="batch"/> as two halves and back-propagates them (see <see cref="ParameterUpdater.Backward"/>):
    /// true when this applied an update. <paramref name="value"/> is the micro-batch's loss: the halves' means, each
    /// weighted by its share of the items.
    /// </summary>
    public bool Step(MicroBatch batch, out double value)
    {
        if (!Splits(batch))
            throw new ArgumentException("This micro-batch has no parts to split.", nameof(batch));
        int half = FirstHalf(batch.Examples, batch.Lengths);
        // Both seeds drawn here, in this order, so that the draws from torch's generator do not depend on the threads.
        ulong mainSeed = InvertedDropout.DrawSeed();
        helperSeed = InvertedDropout.DrawSeed();
        (part, from, to) = (batch.Part, half, batch.Examples);
        // At the first micro-batch of an update the gradients are empty (null or zero): then both halves may accumulate
        // into them at once, since x + y and y + x are the same float, and the second half's separate gradients and
        // the pass that adds them are not needed. Later micro-batches of an accumulated update keep the fixed order.
        together = updater.PendingMicroBatches == 0;
        (mainForwardError, helperForwardError, mainBackwardError, helperBackwardError, helperGradients) = (null, null, null, null, null);
        start.Release();

        int previousThreads = get_num_threads();
        bool proceed;
        try
        {
            set_num_threads(threadsPerHalf);
            using var scope = NewDisposeScope();
            using var seeds = InvertedDropout.UseSeeds(mainSeed);
            PartLoss loss = default;
            try
            {
                loss = batch.Part!(0, half);
                (mainValue, mainItems) = (loss.Mean.ToDouble(), loss.Items);
            }
            catch (Exception e)
            {
                mainForwardError = e;
                (mainValue, mainItems) = (double.NaN, 0);
            }

            barrier.SignalAndWait();
            proceed = Proceeds();
            if (proceed && loss.Items > 0)
            {
                try
                {
                    using var scaled = Weighted(loss);
                    scaled.backward();
                }
                catch (Exception e)
                {
                    mainBackwardError = e;
                }
            }

            barrier.SignalAndWait();
        }
        finally
        {
            set_num_threads(previousThreads);
        }

        Interlocked.Increment(ref s_splits);
        var gradients = helperGradients;
        helperGradients = null;
        if ((mainForwardError ?? helperForwardError ?? mainBackwardError ?? helperBackwardError) is { } error)
        {
            Release(gradients);
            ExceptionDispatchInfo.Throw(error);
        }

        value = Total();
        if (!proceed)
        {
            Release(gradients);
            return updater.AcceptsLoss(value);   // false (skipped) or throws, as for a whole micro-batch
        }

        return updater.CompleteSplit(parameters, gradients);
    }

    // The same decision on both threads, from what both wrote before the first barrier.
    private bool Proceeds() => mainForwardError is null && helperForwardError is null && double.IsFinite(Total());

    // The micro-batch's mean: the halves' means weighted by their items (a half without items is left out; without any
    // items the mean is NaN, as over a whole micro-batch without any).
    private double Total()
    {
        long items = mainItems + helperItems;
        return items == 0 ? double.NaN : Share(mainValue, mainItems) + Share(helperValue, helperItems);

        double Share(double mean, long count) => count == 0 ? 0 : mean * count / items;
    }

    // A half's loss as back-propagated: its mean times its share of the items, then the accumulation scaling.
    private Tensor Weighted(PartLoss loss)
    {
        using var share = loss.Mean * ((double)loss.Items / (mainItems + helperItems));
        return updater.Scaled(share);
    }

    private void HelperLoop()
    {
        set_num_threads(threadsPerHalf);
        while (true)
        {
            start.Wait();
            if (stopping)
                return;
            using var scope = NewDisposeScope();
            using var seeds = InvertedDropout.UseSeeds(helperSeed);
            PartLoss loss = default;
            try
            {
                loss = part!(from, to);
                (helperValue, helperItems) = (loss.Mean.ToDouble(), loss.Items);
            }
            catch (Exception e)
            {
                helperForwardError = e;
                (helperValue, helperItems) = (double.NaN, 0);
            }

            barrier.SignalAndWait();
            if (Proceeds() && loss.Items > 0)
            {
                try
                {
                    using var scaled = Weighted(loss);
                    if (together)
                    {
                        scaled.backward();
                    }
                    else
                    {
                        var gradients = torch.autograd.grad([scaled], [.. parameters.Cast<Tensor>()], allow_unused: true);
                        var kept = new Tensor?[parameters.Count];
                        for (int i = 0; i < kept.Length; i++)
                        {
                            var gradient = gradients[i];
                            kept[i] = gradient is null || gradient.IsInvalid ? null : gradient.DetachFromDisposeScope();
                        }

                        helperGradients = kept;
                    }
                }
                catch (Exception e)
                {
                    helperBackwardError = e;
                }
            }

            barrier.SignalAndWait();
        }
    }

    private static void Release(Tensor?[]? gradients)
    {
        if (gradients is null)
            return;
        foreach (var gradient in gradients)
            gradient?.Dispose();
    }

    /// <summary>Stops the helper thread.</summary>
    public void Dispose()
    {
        if (stopping)
            return;
        stopping = true;
        start.Release();
        helper.Join();
        start.Dispose();
        barrier.Dispose();
    }
}
