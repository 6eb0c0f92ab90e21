using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using Transformer.MLNet.Network.Kernels;

namespace Transformer.MLNet.Network.Modules;

/// <summary>
/// Attention(Q, K, V) = softmax(QKᵀ/√d_k) V (paper, section 3.2.1), on per-head tensors, shared by every attention
/// module of the project. Two paths give the same numbers: <see cref="Compute"/> calls libtorch's fused kernel
/// (no (T×T) weight matrix is kept for backward) except where the explicit formula is faster on the CPU
/// (<see cref="PrefersExplicit"/>), <see cref="ComputeWithWeights"/> spells the formula out and returns
/// the weights for inspection.
/// </summary>
/// <remarks>
/// Masks broadcast to (B, h, T_q, T_k) and are either boolean, true where a query may attend to a key (the
/// convention of <c>torch.nn.functional.scaled_dot_product_attention</c>), or additive: float values added to the
/// scores (0 to keep, −∞ or a large negative number to drop). Every query must keep at least one key.
/// </remarks>
public static class ScaledDotProductAttention
{
    /// <summary>Fused attention.</summary>
    /// <param name="query">(B, h, T_q, d).</param>
    /// <param name="key">(B, h, T_k, d).</param>
    /// <param name="value">(B, h, T_k, d_v).</param>
    /// <param name="mask">Boolean or additive mask broadcastable to (B, h, T_q, T_k), or null.</param>
    /// <param name="causal">Queries see only keys at or before their own position; queries are the last T_q positions of the keys.</param>
    /// <param name="dropout">Probability of dropping an attention weight (pass 0 outside training).</param>
    /// <returns>(B, h, T_q, d_v).</returns>
    public static Tensor Compute(Tensor query, Tensor key, Tensor value, Tensor? mask = null, bool causal = false, double dropout = 0.0)
    {
        CheckShapes(query, key, value);
        // A single query is the last position: causality hides nothing from it (the incremental decoding step).
        causal &= query.shape[2] > 1;
        if (PrefersExplicit(query, key, dropout))
        {
            var (output, weights) = ComputeWithWeights(query, key, value, mask, causal, dropout);
            weights.Dispose();
            return output;
        }

        return ComputeFused(query, key, value, mask, causal, dropout);
    }

    /// <summary>libtorch's fused kernel, whatever the device and shapes (<see cref="Compute"/> picks between the paths).</summary>
    internal static Tensor ComputeFused(Tensor query, Tensor key, Tensor value, Tensor? mask, bool causal, double dropout)
    {
        causal &= query.shape[2] > 1;
        if (causal && mask is null && query.shape[2] == key.shape[2])
            return nn.functional.scaled_dot_product_attention(query, key, value, p: dropout, is_casual: true);

        // The fused kernel wants additive masks in the query's dtype (bfloat16 models with float32 masks).
        using var typed = mask is not null && mask.dtype != ScalarType.Bool && mask.dtype != query.dtype ? mask.to_type(query.dtype) : null;
        using var combined = causal ? WithCausal(typed ?? mask, query.shape[2], key.shape[2], query.device) : null;
        return nn.functional.scaled_dot_product_attention(query, key, value, combined ?? typed ?? mask, dropout);
    }

    /// <summary>
    /// Where the explicit formula beats libtorch's fused CPU kernel (measured on a 2-core Zen 4 EPYC, forward and
    /// backward, attention of (B, 12, T, 32) heads at about 512 tokens per batch):
    /// <list type="bullet">
    /// <item>with dropout, which the fused kernel only supports by falling back to the same formula with a mask drawn
    /// element by element (1.5–3× slower than <see cref="InvertedDropout"/>'s);</item>
    /// <item>in bfloat16, where the fused kernel was 1.4–5.6× slower for inference and 2.3–13× slower for training at
    /// 14 to 256 keys;</item>
    /// <item>in float32 with fewer than 16 keys, where the explicit path's <see cref="Softmax"/> avoids libtorch's scalar
    /// short-row kernel (1.5× for inference, 1.2× for training, one thread);</item>
    /// <item>in float32 on more than one intra-op thread up to 256 × 256 scores, where the fused kernel's many short
    /// parallel regions cost more than they share out (explicit 1.2–3.8× faster on two threads, while on one thread
    /// the fused kernel was 1.1–1.4× faster from 18 keys on).</item>
    /// </list>
    /// The explicit path keeps the (B, h, T_q, T_k) weights for backward, so it is used only up to
    /// <see cref="ExplicitBFloat16Scores"/> scores per head (<see cref="ExplicitFloat32Scores"/> in float32), beyond which
    /// the fused kernel's memory saving matters more.
    /// </summary>
    internal static bool PrefersExplicit(Tensor query, Tensor key, double dropout)
    {
        if (query.device_type != DeviceType.CPU)
            return false;
        if (dropout > 0)
            return true;
        long keys = key.shape[2], scores = query.shape[2] * keys;
        return query.dtype switch
        {
            ScalarType.BFloat16 => scores <= ExplicitBFloat16Scores,
            ScalarType.Float32 => scores <= ExplicitBFloat16Scores && (keys < ShortSoftmaxRow || (scores <= ExplicitFloat32Scores && get_num_threads() > 1)),
            _ => false,
        };
    }

    /// <summary>Largest T_q·T_k for which bfloat16 attention on the CPU takes the explicit path (512 × 512).</summary>
    internal const long ExplicitBFloat16Scores = 512 * 512;

    /// <summary>Largest T_q·T_k for which float32 attention on several CPU threads takes the explicit path (256 × 256).</summary>
    internal const long ExplicitFloat32Scores = 256 * 256;

    /// <summary>
    /// Softmax over the last dimension. libtorch's CPU kernel vectorises along each row, so rows shorter than one
    /// AVX-512 vector of floats (16) run its scalar tail element by element: at 14 keys, (32, 12, 14, 14) float32 scores
    /// took 1.07 ms against 0.32 ms at 18 keys (one thread, 2-core Zen 4 EPYC). There the same formula as separate
    /// whole-tensor operations, exp(x − max) / Σ, is 2–4× faster forward and backward in float32, and for bfloat16
    /// inference when computed in float32; other cases keep libtorch's kernel. The row maximum is a constant for
    /// autograd (softmax does not change when a row is shifted), so gradients are softmax's own.
    /// </summary>
    internal static Tensor Softmax(Tensor scores)
    {
        bool cpu = scores.device_type == DeviceType.CPU;
        bool bfloat16Inference = scores.dtype == ScalarType.BFloat16 && !(scores.requires_grad && is_grad_enabled());
        bool composite = cpu && scores.shape[^1] < ShortSoftmaxRow && (scores.dtype == ScalarType.Float32 || bfloat16Inference);
        if (cpu && bfloat16Inference && !composite && SlowBFloat16Row(scores.shape[^1]))
        {
            using var widened = scores.to(ScalarType.Float32);
            using var exact = widened.softmax(-1);
            return exact.to(ScalarType.BFloat16);
        }

        if (!composite)
            return scores.softmax(-1);
        using var scope = NewDisposeScope();
        var wide = scores.dtype == ScalarType.Float32 ? scores : scores.to(ScalarType.Float32);
        var max = wide.detach().amax([-1], keepdim: true);
        var exponentials = (wide - max).exp_();
        var weights = exponentials / exponentials.sum(-1, keepdim: true);
        return (scores.dtype == ScalarType.Float32 ? weights : weights.to(scores.dtype)).MoveToOuterDisposeScope();
    }

    /// <summary>Rows shorter than this take <see cref="Softmax"/>'s whole-tensor formula on the CPU.</summary>
    internal const long ShortSoftmaxRow = 16;

    /// <summary>
    /// Row lengths at which libtorch's bfloat16 CPU softmax runs a slow tail: it vectorises 32 bfloat16 values at a time
    /// and handles the rest of a row separately, so rows of up to 128 keys whose remainder after the last 32 is 8 or more
    /// took 1.4–3.6 times as long as converting to float32, taking float32's softmax and rounding back ((32, 12, T, T)
    /// scores, one thread, 2-core Zen 4 EPYC: at 24 keys 1.54 against 0.46 ms, at 63 keys 5.98 against 2.19 ms; at
    /// 32, 33, 64, 96 or 100 keys bfloat16 was as fast or faster). Beyond 128 keys the float32 copy costs more than the
    /// tail. <see cref="Softmax"/> takes the float32 route there for bfloat16 inference.
    /// </summary>
    internal static bool SlowBFloat16Row(long keys) => keys <= 128 && keys % 32 >= 8;

    /// <summary>Explicit attention that also returns the weights.</summary>
    /// <param name="query">(B, h, T_q, d).</param>
    /// <param name="key">(B, h, T_k, d).</param>
    /// <param name="value">(B, h, T_k, d_v).</param>
    /// <param name="mask">Boolean or additive mask broadcastable to (B, h, T_q, T_k), or null.</param>
    /// <param name="causal">Queries see only keys at or before their own position; queries are the last T_q positions of the keys.</param>
    /// <param name="dropout">Probability of dropping an attention weight (pass 0 outside training).</param>
    /// <returns>Output (B, h, T_q, d_v) and the softmax weights (B, h, T_q, T_k) before dropout; each row sums to 1.</returns>
    public static (Tensor Output, Tensor Weights) ComputeWithWeights(
        Tensor query, Tensor key, Tensor value, Tensor? mask = null, bool causal = false, double dropout = 0.0)
    {
        CheckShapes(query, key, value);
        using var combined = causal ? WithCausal(mask, query.shape[2], key.shape[2], query.device) : null;
        var effective = combined ?? mask;

        using var keyT = key.transpose(-2, -1);                              // (B, h, d, T_k)
        using var raw = matmul(query, keyT);                                 // (B, h, T_q, T_k)
        using var scores = raw.mul_(1.0 / Math.Sqrt(query.shape[^1]));
        if (effective is not null)
        {
            if (effective.dtype == ScalarType.Bool)
            {
                using var dropped = effective.logical_not();
                scores.masked_fill_(dropped, double.NegativeInfinity);
            }
            else
            {
                scores.add_(effective);
            }
        }

        var weights = Softmax(scores);
        using var used = dropout > 0 ? InvertedDropout.Apply(weights, dropout) : weights.alias();
        return (matmul(used, value), weights);
    }

    /// <summary>Boolean causal mask for queries that are the last <paramref name="queryLength"/> of <paramref name="keyLength"/> positions.</summary>
    /// <param name="queryLength">T_q.</param>
    /// <param name="keyLength">T_k ≥ T_q (keys include the cached past).</param>
    /// <param name="device">Where to create it.</param>
    /// <returns>(T_q, T_k) boolean, true where query i may attend to key j, that is j ≤ T_k − T_q + i.</returns>
    public static Tensor CausalMask(long queryLength, long keyLength, Device? device = null)
    {
        if (keyLength < queryLength)
            throw new ArgumentException($"A causal mask needs at least as many keys ({keyLength}) as queries ({queryLength}).", nameof(keyLength));
        using var all = ones(queryLength, keyLength, ScalarType.Bool, device);
        return all.tril(keyLength - queryLength);
    }

    /// <summary>Turns a padding mask into a key mask for <see cref="Compute"/>.</summary>
    /// <param name="padding">(B, T_k) boolean, true at padding positions.</param>
    /// <returns>(B, 1, 1, T_k) boolean, true where a key may be attended to.</returns>
    public static Tensor KeyMask(Tensor padding)
    {
        if (padding.dim() != 2 || padding.dtype != ScalarType.Bool)
            throw new ArgumentException(
                $"A padding mask must be a (batch, length) boolean tensor, true at padding; got {padding.dtype} of shape [{string.Join(", ", padding.shape)}].",
                nameof(padding));
        using var keep = padding.logical_not();
        return keep.unsqueeze(1).unsqueeze(1);
    }

    /// <summary>Splits the model dimension into heads: (B, T, h·d) → (B, h, T, d), a view of <paramref name="x"/>.</summary>
    internal static Tensor SplitHeads(Tensor x, int heads)
    {
        long batch = x.shape[0], length = x.shape[1], width = x.shape[2];
        return x.view(batch, length, heads, width / heads).transpose(1, 2);
    }

    /// <summary>
    /// Self-attention's three projections as one (D → 3D) matmul, split into heads: the weights are concatenated at
    /// compute time, so the parameters stay three separate projections (and load by their usual names) while the CPU
    /// runs one larger GEMM instead of three small ones (about 15% less time for the three, forward and backward, at
    /// 300 tokens × 384).
    /// </summary>
    /// <returns>Q, K, V as (B, h, T, d) views of one (B, T, 3D) tensor.</returns>
    internal static (Tensor Q, Tensor K, Tensor V) ProjectPacked(Tensor x, Linear query, Linear key, Linear value, int heads)
    {
        using var packed = Stacked(x, query, key, value);                     // (B, T, 3D)
        return SplitPacked(packed, heads);
    }

    /// <summary>The heads of a packed projection: (B, T, 3·h·d) → 3 × (B, h, T, d), views of <paramref name="packed"/>.</summary>
    internal static (Tensor Q, Tensor K, Tensor V) SplitPacked(Tensor packed, int heads)
    {
        long batch = packed.shape[0], length = packed.shape[1], headDim = packed.shape[2] / (3L * heads);
        using var split = packed.view(batch, length, 3, heads, headDim).permute(2, 0, 3, 1, 4);   // (3, B, h, T, d)
        var parts = split.unbind(0);
        return (parts[0], parts[1], parts[2]);
    }

    /// <summary>
    /// x·[Wq; Wk; Wv]ᵀ + [bq; bk; bv], (B, T, D) → (B, T, 3D): from the stack packed for inference where the thread has
    /// one, else one product with the concatenated weights (concatenated once per inference pass where the thread has
    /// entered an <see cref="InferenceWeights"/> set, else on each call).
    /// </summary>
    internal static Tensor Stacked(Tensor x, Linear query, Linear key, Linear value)
    {
        if (InferenceWeights.Find([query.weight!, key.weight!, value.weight!], [query.bias, key.bias, value.bias]) is { } pack
            && pack.Accepts(x))
            return pack.Forward(x);
        if (InferenceWeights.FindBlocked([query.weight!, key.weight!, value.weight!], [query.bias, key.bias, value.bias]) is var (blockedWeight, blockedBias)
            && FusedLinear.Applies(x, blockedWeight, blockedBias) && FusedLinear.Forward(x, blockedWeight, blockedBias, activation: null) is { } fused)
            return fused;
        if (InferenceWeights.FindStack([query.weight!, key.weight!, value.weight!], [query.bias, key.bias, value.bias]) is var (stackWeight, stackBias))
            return Projection.Linear(x, stackWeight, stackBias);
        using var weight = cat([query.weight!, key.weight!, value.weight!], 0);   // (3D, D)
        using var bias = query.bias is null ? null : cat([query.bias, key.bias!, value.bias!], 0);   // (3D)
        return Projection.Linear(x, weight, bias);
    }

    /// <summary>Concatenates the heads again: (B, h, T, d) → (B, T, h·d).</summary>
    internal static Tensor MergeHeads(Tensor x)
    {
        long batch = x.shape[0], length = x.shape[2];
        using var transposed = x.transpose(1, 2);   // (B, T, h, d)
        return transposed.reshape(batch, length, -1);
    }

    private static Tensor WithCausal(Tensor? mask, long queryLength, long keyLength, Device device)
    {
        var causal = CausalMask(queryLength, keyLength, device);
        if (mask is null)
            return causal;
        using (causal)
        {
            if (mask.dtype == ScalarType.Bool)
                return mask.logical_and(causal);
            using var blocked = causal.logical_not();
            using var additive = zeros(queryLength, keyLength, mask.dtype, device).masked_fill_(blocked, double.NegativeInfinity);
            return mask.add(additive);
        }
    }

    private static void CheckShapes(Tensor query, Tensor key, Tensor value)
    {
        if (query.dim() != 4 || key.dim() != 4 || value.dim() != 4)
            throw new ArgumentException(
                $"Attention expects (batch, heads, length, head_dim) tensors; got query [{string.Join(", ", query.shape)}], " +
                $"key [{string.Join(", ", key.shape)}], value [{string.Join(", ", value.shape)}].");
        if (query.shape[^1] != key.shape[^1] || key.shape[2] != value.shape[2])
            throw new ArgumentException(
                $"Query and key need the same head_dim and key and value the same length; got query [{string.Join(", ", query.shape)}], " +
                $"key [{string.Join(", ", key.shape)}], value [{string.Join(", ", value.shape)}].");
    }
}
