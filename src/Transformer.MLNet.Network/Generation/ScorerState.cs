using static TorchSharp.torch;

namespace Transformer.MLNet.Network.Generation;

/// <summary>
/// A tensor a scorer keeps across decoding steps: held outside every dispose scope and disposed when replaced,
/// so the per-step scopes of the decoding loops cannot free it.
/// </summary>
internal sealed class ScorerState : IDisposable
{
    private Tensor? value;

    public ScorerState(Tensor? initial = null) => Set(initial);

    public Tensor? Value => value;

    public Tensor Required => value ?? throw new InvalidOperationException("Call Start before Advance or Select.");

    public void Set(Tensor? next)
    {
        if (ReferenceEquals(next, value))
            return;
        value?.Dispose();
        value = next?.DetachFromDisposeScope();
    }

    /// <summary>Keeps the given rows (dimension 0).</summary>
    public void Select(Tensor rows)
    {
        if (value is not null)
            Set(value.index_select(0, rows));
    }

    public void Dispose() => Set(null);
}
