using static TorchSharp.torch;

namespace Transformer.MLNet.Network.Modules;

/// <summary>
/// Projected keys and values that one attention module keeps between incremental decoding steps: for
/// self-attention they grow by the new positions each step; for cross-attention they are computed from the encoder
/// output once. The tensors are detached from dispose scopes, so a step may run inside its own scope.
/// </summary>
public sealed class AttentionCache : IDisposable
{
    /// <summary>Cached keys, (B, h, T, d), or null before the first step.</summary>
    public Tensor? Key { get; private set; }

    /// <summary>Cached values, (B, h, T, d), or null before the first step.</summary>
    public Tensor? Value { get; private set; }

    /// <summary>Positions cached (T).</summary>
    public long Length => Key?.shape[2] ?? 0;

    /// <summary>Replaces the cached keys and values, freeing the old ones.</summary>
    /// <param name="key">(B, h, T, d).</param>
    /// <param name="value">(B, h, T, d).</param>
    public void Update(Tensor key, Tensor value)
    {
        if (!ReferenceEquals(Key, key))
            Key?.Dispose();
        if (!ReferenceEquals(Value, value))
            Value?.Dispose();
        Key = key.DetachFromDisposeScope();
        Value = value.DetachFromDisposeScope();
    }

    /// <summary>Keeps, for each new batch row, the cached row <paramref name="batchIndices"/> names (beam search).</summary>
    /// <param name="batchIndices">(B') int64 indices into the cached batch.</param>
    public void Reorder(Tensor batchIndices)
    {
        if (Key is null || Value is null)
            return;
        Update(Key.index_select(0, batchIndices), Value.index_select(0, batchIndices));
    }

    /// <summary>Frees the cached tensors.</summary>
    public void Dispose()
    {
        Key?.Dispose();
        Value?.Dispose();
        Key = null;
        Value = null;
    }
}
