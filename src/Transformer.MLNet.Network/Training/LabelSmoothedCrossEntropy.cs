using TorchSharp;
using static TorchSharp.torch;

namespace Transformer.MLNet.Network.Training;

/// <summary>
/// Cross-entropy against targets smoothed with ε_ls (paper, section 5.4): the true class gets 1 − ε, and ε is
/// spread uniformly over all classes. Positions whose target is the padding id are ignored.
/// </summary>
internal static class LabelSmoothedCrossEntropy
{
    /// <summary>Mean loss over the non-ignored positions.</summary>
    /// <param name="logits">(..., V) unnormalised scores; bfloat16 is promoted to float32 so the reduction stays exact.</param>
    /// <param name="targets">(...) int64 class ids, same leading shape as <paramref name="logits"/>.</param>
    /// <param name="smoothing">ε_ls in [0, 1).</param>
    /// <param name="ignoreIndex">Target id that contributes nothing (usually the padding id); negative for none.</param>
    /// <returns>A scalar float32 tensor.</returns>
    /// <exception cref="ArgumentException">Shapes disagree or <paramref name="smoothing"/> is out of range.</exception>
    public static Tensor Compute(Tensor logits, Tensor targets, double smoothing, long ignoreIndex = -100)
    {
        if (smoothing is < 0 or >= 1)
            throw new ArgumentException($"Label smoothing = {smoothing} is invalid: must be in [0, 1).", nameof(smoothing));
        long classes = logits.shape[^1];
        if (logits.dim() != targets.dim() + 1 || !logits.shape[..^1].SequenceEqual(targets.shape))
            throw new ArgumentException(
                $"Logits of shape [{string.Join(", ", logits.shape)}] need targets of shape [{string.Join(", ", logits.shape[..^1])}], " +
                $"got [{string.Join(", ", targets.shape)}].", nameof(targets));

        using var flatLogits = logits.reshape(-1, classes);           // (N, V)
        using var scores = flatLogits.dtype == ScalarType.Float32 ? flatLogits.alias() : flatLogits.to_type(ScalarType.Float32);
        using var flatTargets = targets.reshape(-1);                   // (N)
        return nn.functional.cross_entropy(scores, flatTargets, ignore_index: ignoreIndex, label_smoothing: smoothing);
    }

    /// <summary>
    /// The same mean loss as <see cref="Compute"/> over <c>project(hidden)</c>, computed for the non-ignored positions
    /// only and in row blocks whose logits stay under <paramref name="maxBlockBytes"/>.
    /// </summary>
    /// <remarks>
    /// With a large vocabulary the (positions, V) logits, their log-probabilities and their gradients are the largest
    /// buffers of a training step, and their size changes with every batch's length. Above 32 MB glibc maps each such
    /// buffer afresh and unmaps it when freed, so the kernel zero-fills it page by page every step; blocks below that
    /// stay in the heap and are reused. Skipping padded positions also saves their projection.
    /// </remarks>
    /// <param name="hidden">(..., D) inputs of the projection.</param>
    /// <param name="project">(N, D) to (N, V) logits, e.g. a model's generator.</param>
    /// <param name="targets">(...) int64 class ids, the leading shape of <paramref name="hidden"/>.</param>
    /// <param name="vocabSize">V, to size the blocks.</param>
    /// <param name="smoothing">ε_ls in [0, 1).</param>
    /// <param name="ignoreIndex">Target id that contributes nothing (usually the padding id); negative for none.</param>
    /// <param name="maxBlockBytes">Most bytes of one block's float32 logits (default 16 MB).</param>
    /// <returns>A scalar float32 tensor; 0 when every position is ignored.</returns>
    /// <exception cref="ArgumentException">Shapes disagree or <paramref name="smoothing"/> is out of range.</exception>
    public static Tensor ComputeProjected(Tensor hidden, Func<Tensor, Tensor> project, Tensor targets, long vocabSize, double smoothing,
        long ignoreIndex = -100, long maxBlockBytes = 16L << 20)
    {
        ArgumentNullException.ThrowIfNull(project);
        if (smoothing is < 0 or >= 1)
            throw new ArgumentException($"Label smoothing = {smoothing} is invalid: must be in [0, 1).", nameof(smoothing));
        if (hidden.dim() != targets.dim() + 1 || !hidden.shape[..^1].SequenceEqual(targets.shape))
            throw new ArgumentException(
                $"Inputs of shape [{string.Join(", ", hidden.shape)}] need targets of shape [{string.Join(", ", hidden.shape[..^1])}], " +
                $"got [{string.Join(", ", targets.shape)}].", nameof(targets));

        using var flatHidden = hidden.reshape(-1, hidden.shape[^1]);                 // (N, D)
        using var flatTargets = targets.reshape(-1);                                  // (N)
        using var kept = (flatTargets != ignoreIndex).nonzero().squeeze(1);           // (K)
        long count = kept.shape[0];
        if (count == 0)
            return zeros([], ScalarType.Float32, hidden.device);
        using var keptHidden = flatHidden.index_select(0, kept);                     // (K, D)
        using var keptTargets = flatTargets.index_select(0, kept);                   // (K)
        long rows = Math.Max(1, maxBlockBytes / (vocabSize * sizeof(float)));
        Tensor? total = null;
        for (long start = 0; start < count; start += rows)
        {
            long length = Math.Min(rows, count - start);
            using var blockHidden = keptHidden.narrow(0, start, length);            // (R, D)
            using var blockTargets = keptTargets.narrow(0, start, length);          // (R)
            using var logits = project(blockHidden);                                 // (R, V)
            using var scores = logits.dtype == ScalarType.Float32 ? logits.alias() : logits.to_type(ScalarType.Float32);
            var sum = nn.functional.cross_entropy(scores, blockTargets, reduction: nn.Reduction.Sum, label_smoothing: smoothing);
            if (total is null)
            {
                total = sum;
            }
            else
            {
                using var previous = total;
                using (sum)
                    total = previous + sum;
            }
        }

        using (total)
            return total! / count;
    }
}
