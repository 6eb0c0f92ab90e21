using TorchSharp;
using static TorchSharp.torch;

namespace Transformer.MLNet.Network.Training;

/// <summary>
/// The weights of the best evaluation so far, kept in float32 outside any dispose scope (from the master copies when
/// training in bfloat16, so that restoring them loses nothing), and put back at the end of training.
/// </summary>
internal sealed class BestWeights : IDisposable
{
    private Dictionary<string, Tensor>? weights;

    /// <summary>The kept weights by state-dict key, or null when none are kept (for checkpoints).</summary>
    public IReadOnlyDictionary<string, Tensor>? Tensors => weights;

    /// <summary>Keeps the model's current weights, reusing the buffers of the previous snapshot.</summary>
    public void Keep(ParameterUpdater updater)
    {
        using var noGrad = no_grad();
        foreach (var (name, source) in updater.Float32State())
        {
            if (weights?.TryGetValue(name, out var kept) == true)
                kept.copy_(source);
            else
                (weights ??= [])[name] = KeepFloat32(source);
        }

        static Tensor KeepFloat32(Tensor source) =>
            (source.is_floating_point() ? source.detach().to(ScalarType.Float32, copy: true) : source.detach().clone()).DetachFromDisposeScope();
    }

    /// <summary>Takes ownership of weights read from a checkpoint.</summary>
    public void Adopt(Dictionary<string, Tensor>? restored)
    {
        Dispose();
        weights = restored;
    }

    /// <summary>Copies the kept weights into <paramref name="model"/> (converting to its number format).</summary>
    public void Restore(nn.Module model)
    {
        using var noGrad = no_grad();
        foreach (var (name, value) in model.state_dict())
            value.copy_(weights![name]);
    }

    /// <summary>Frees the kept weights.</summary>
    public void Dispose()
    {
        if (weights is null)
            return;
        foreach (var t in weights.Values)
            t.Dispose();
        weights = null;
    }
}
