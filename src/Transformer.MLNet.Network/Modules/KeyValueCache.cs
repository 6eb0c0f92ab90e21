using static TorchSharp.torch;

namespace Transformer.MLNet.Network.Modules;

/// <summary>
/// Per-layer key/value caches of a decoder stack for incremental decoding: pass the same instance to every
/// decoding step, feeding only the new tokens; positions continue from <see cref="Length"/>. Use under
/// <c>torch.no_grad()</c>, and dispose it when the sequence is finished.
/// </summary>
public sealed class KeyValueCache : IDisposable
{
    private readonly AttentionCache[] self;
    private readonly AttentionCache[] cross;

    /// <summary>An empty cache for a decoder of <paramref name="layers"/> layers.</summary>
    /// <param name="layers">Number of decoder layers.</param>
    public KeyValueCache(int layers)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(layers);
        self = Enumerable.Range(0, layers).Select(_ => new AttentionCache()).ToArray();
        cross = Enumerable.Range(0, layers).Select(_ => new AttentionCache()).ToArray();
    }

    /// <summary>Number of decoder layers covered.</summary>
    public int Layers => self.Length;

    /// <summary>Target positions already decoded (the position of the next token).</summary>
    public long Length => self.Length == 0 ? 0 : self[0].Length;

    /// <summary>The self-attention cache of layer <paramref name="layer"/>.</summary>
    /// <param name="layer">Layer index.</param>
    public AttentionCache SelfAttention(int layer) => self[layer];

    /// <summary>The cross-attention cache (encoder keys and values) of layer <paramref name="layer"/>.</summary>
    /// <param name="layer">Layer index.</param>
    public AttentionCache CrossAttention(int layer) => cross[layer];

    /// <summary>Selects batch rows of every cache, e.g. the surviving beams in beam search.</summary>
    /// <param name="batchIndices">(B') int64 indices into the current batch.</param>
    public void Reorder(Tensor batchIndices)
    {
        foreach (var cache in self.Concat(cross))
            cache.Reorder(batchIndices);
    }

    /// <summary>Frees every cached tensor.</summary>
    public void Dispose()
    {
        foreach (var cache in self.Concat(cross))
            cache.Dispose();
    }
}
