using TorchSharp;
using Transformer.MLNet.Network.Runtime;

namespace Transformer.MLNet;

/// <summary>The warning given when bfloat16 is asked for on a CPU that has no bfloat16 instructions.</summary>
internal static class BFloat16Advice
{
    /// <summary>The warning for <paramref name="optionName"/>, or null when bfloat16 is not asked for or the hardware has it.</summary>
    /// <param name="bfloat16">Whether the option asks for bfloat16.</param>
    /// <param name="device">Where the model runs; GPUs are not concerned.</param>
    /// <param name="optionName">The option as the user set it, e.g. <c>UseBFloat16</c>.</param>
    public static string? Warning(bool bfloat16, torch.Device device, string optionName) =>
        !bfloat16 || device.type != DeviceType.CPU || CpuFeatures.HasNativeBFloat16
            ? null
            : $"{optionName} asks for bfloat16, but this CPU has no bfloat16 instructions (AVX-512 BF16 or AMX): libtorch " +
              "then runs bfloat16 matrix products in a slow reference kernel (measured on an AVX2-only CPU: sentence " +
              "embeddings 8.6 times and training about 30 times slower than float32). Use float32 on this machine; " +
              "CpuFeatures.HasNativeBFloat16 tells where bfloat16 pays.";
}
