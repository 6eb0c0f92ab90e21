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
}
