using TorchSharp;

namespace Transformer.MLNet.Network.Modules;

/// <summary>Whole-model helpers.</summary>
public static class ModuleExtensions
{
    /// <summary>Number of trainable scalars, each shared tensor counted once.</summary>
    /// <param name="module">Any module.</param>
    public static long ParameterCount(this torch.nn.Module module) =>
        module.parameters().DistinctBy(p => p.Handle).Sum(p => p.numel());

    /// <summary>Switches every <see cref="MultiHeadAttention"/> inside <paramref name="module"/> between the fused and the explicit path.</summary>
    /// <param name="module">Any module.</param>
    /// <param name="fused">True for libtorch's fused kernel, false for the explicit formula.</param>
    public static void UseFusedAttention(this torch.nn.Module module, bool fused)
    {
        foreach (var attention in module.modules().OfType<MultiHeadAttention>())
            attention.UseFusedAttention = fused;
    }
}
