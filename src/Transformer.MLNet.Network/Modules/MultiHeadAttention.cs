using TorchSharp;
using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;
using Transformer.MLNet.Network.Kernels;

namespace Transformer.MLNet.Network.Modules;

/// <summary>
/// MultiHead(Q, K, V) = Concat(head_1, …, head_h) W^O with head_i = Attention(Q W_i^Q, K W_i^K, V W_i^V)
/// (paper, section 3.2.2): separate query, key and value projections of d_model → d_model (all heads at once) and an
/// output projection.
/// </summary>
public sealed class MultiHeadAttention : nn.Module
{
    [ComponentName(Name = "query")]
    private readonly Linear queryProjection;

    [ComponentName(Name = "key")]
    private readonly Linear keyProjection;

    [ComponentName(Name = "value")]
    private readonly Linear valueProjection;

    [ComponentName(Name = "output")]
    private readonly Linear outputProjection;

    private readonly int heads;
    private readonly double dropout;

    /// <summary>Creates the four projections.</summary>
    /// <param name="modelDim">d_model.</param>
    /// <param name="heads">h; must divide <paramref name="modelDim"/>.</param>
    /// <param name="dropout">Dropout on the attention weights during training.</param>
    public MultiHeadAttention(int modelDim, int heads, double dropout) : base(nameof(MultiHeadAttention))
    {
        if (heads <= 0 || modelDim % heads != 0)
            throw new ArgumentException($"Heads = {heads} must be positive and divide ModelDim = {modelDim}.", nameof(heads));
        this.heads = heads;
        this.dropout = dropout;
        queryProjection = nn.Linear(modelDim, modelDim);
        keyProjection = nn.Linear(modelDim, modelDim);
        valueProjection = nn.Linear(modelDim, modelDim);
        outputProjection = nn.Linear(modelDim, modelDim);
        RegisterComponents();
        using (no_grad())
        {
            // Glorot-uniform projections, as in the reference implementations of the paper (tensor2tensor).
            foreach (var projection in new[] { queryProjection, keyProjection, valueProjection, outputProjection })
                nn.init.xavier_uniform_(projection.weight!);
        }
    }

    /// <summary>Use libtorch's fused attention kernel (default) instead of the explicit formula; both agree to ≈1e-6.</summary>
    public bool UseFusedAttention { get; set; } = true;

    /// <summary>Attention of <paramref name="query"/> over <paramref name="keyValue"/>.</summary>
    /// <param name="query">(B, T_q, D).</param>
    /// <param name="keyValue">(B, T_k, D); the same tensor as <paramref name="query"/> for self-attention.</param>
    /// <param name="mask">Boolean (true = attend) or additive mask broadcastable to (B, h, T_q, T_k), or null.</param>
    /// <param name="causal">Each query sees only keys up to its own position.</param>
    /// <returns>(B, T_q, D).</returns>
    public Tensor forward(Tensor query, Tensor keyValue, Tensor? mask = null, bool causal = false)
    {
        var (q, k, v) = ReferenceEquals(query, keyValue) ? ProjectSelf(query) : ProjectCross(query, keyValue);
        using (q)
        using (k)
        using (v)
            return Attend(q, k, v, mask, causal);
    }

    /// <summary>Self-attention over new positions, appending their keys and values to <paramref name="cache"/>.</summary>
    /// <param name="x">(B, T_new, D).</param>
    /// <param name="cache">Keys and values of earlier positions; updated in place.</param>
    /// <param name="mask">Boolean or additive mask broadcastable to (B, h, T_new, T_past + T_new), or null.</param>
    /// <param name="causal">New positions see only keys up to their own position.</param>
    /// <returns>(B, T_new, D).</returns>
    public Tensor SelfAttention(Tensor x, AttentionCache cache, Tensor? mask = null, bool causal = true)
    {
        var (q, k, v) = ProjectSelf(x);
        using (q)
        {
            if (cache.Key is { } pastKey && cache.Value is { } pastValue)
            {
                using (k)
                using (v)
                    cache.Update(cat([pastKey, k], 2), cat([pastValue, v], 2));   // (B, h, T_past + T_new, d)
            }
            else
            {
                cache.Update(k, v);
            }

            return Attend(q, cache.Key!, cache.Value!, mask, causal);
        }
    }

    /// <summary>Attention over a fixed memory whose projected keys and values are computed once and cached.</summary>
    /// <param name="query">(B, T_q, D).</param>
    /// <param name="memory">(B, S, D), the encoder output; read only when the cache is empty.</param>
    /// <param name="cache">Holds the memory's keys and values after the first call.</param>
    /// <param name="mask">Boolean or additive mask broadcastable to (B, h, T_q, S), or null.</param>
    /// <returns>(B, T_q, D).</returns>
    public Tensor CrossAttention(Tensor query, Tensor memory, AttentionCache cache, Tensor? mask = null)
    {
        if (cache.Key is null)
            cache.Update(SplitHeads(keyProjection.Project(memory)), SplitHeads(valueProjection.Project(memory)));
        using var q = SplitHeads(queryProjection.Project(query));
        return Attend(q, cache.Key!, cache.Value!, mask, causal: false);
    }

    /// <summary>Like <see cref="forward"/>, through the explicit path, also returning the attention weights.</summary>
    /// <param name="query">(B, T_q, D).</param>
    /// <param name="keyValue">(B, T_k, D).</param>
    /// <param name="mask">Boolean (true = attend) or additive mask broadcastable to (B, h, T_q, T_k), or null.</param>
    /// <param name="causal">Each query sees only keys up to its own position.</param>
    /// <returns>Output (B, T_q, D) and weights (B, h, T_q, T_k).</returns>
    public (Tensor Output, Tensor Weights) ForwardWithWeights(Tensor query, Tensor keyValue, Tensor? mask = null, bool causal = false)
    {
        var (q, k, v) = ProjectCross(query, keyValue);
        using (q)
        using (k)
        using (v)
        {
            var (heads, weights) = ScaledDotProductAttention.ComputeWithWeights(q, k, v, mask, causal, training ? dropout : 0);
            using (heads)
                return (MergeHeads(heads), weights);
        }
    }

    private (Tensor Q, Tensor K, Tensor V) ProjectSelf(Tensor x) =>
        ScaledDotProductAttention.ProjectPacked(x, queryProjection, keyProjection, valueProjection, heads);

    private (Tensor Q, Tensor K, Tensor V) ProjectCross(Tensor query, Tensor keyValue) =>
        (SplitHeads(queryProjection.Project(query)), SplitHeads(keyProjection.Project(keyValue)), SplitHeads(valueProjection.Project(keyValue)));

    private Tensor Attend(Tensor q, Tensor k, Tensor v, Tensor? mask, bool causal)
    {
        double p = training ? dropout : 0;
        if (UseFusedAttention)
        {
            using var fused = ScaledDotProductAttention.Compute(q, k, v, mask, causal, p);
            return MergeHeads(fused);
        }

        var (explicitOutput, weights) = ScaledDotProductAttention.ComputeWithWeights(q, k, v, mask, causal, p);
        using (weights)
        using (explicitOutput)
            return MergeHeads(explicitOutput);
    }

    private Tensor SplitHeads(Tensor x)
    {
        using (x)
            return ScaledDotProductAttention.SplitHeads(x, heads);   // (B, T, D) -> (B, h, T, d)
    }

    private Tensor MergeHeads(Tensor x)
    {
        using var merged = ScaledDotProductAttention.MergeHeads(x);   // (B, h, T, d) -> (B, T, D)
        return outputProjection.Project(merged);
    }
}
