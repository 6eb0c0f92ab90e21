using TorchSharp;

namespace Transformer.MLNet.Network.Runtime;

/// <summary>
/// Chooses the TorchSharp device the way ML.NET's settings describe it: <c>MLContext.GpuDeviceId</c> (null = CPU)
/// and <c>MLContext.FallbackToCpu</c>.
/// </summary>
public static class TorchDevices
{
    /// <summary>Picks CPU or a CUDA device.</summary>
    /// <param name="gpuDeviceId">CUDA device index, or null for the CPU.</param>
    /// <param name="fallbackToCpu">When the requested GPU is not available: true runs on the CPU, false throws.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="gpuDeviceId"/> is negative.</exception>
    /// <exception cref="InvalidOperationException">The GPU is unavailable and <paramref name="fallbackToCpu"/> is false.</exception>
    public static torch.Device Select(int? gpuDeviceId, bool fallbackToCpu)
    {
        TorchRuntime.EnsureLoaded();
        if (gpuDeviceId is null)
            return torch.CPU;
        if (gpuDeviceId < 0)
            throw new ArgumentOutOfRangeException(nameof(gpuDeviceId), gpuDeviceId,
                "GpuDeviceId must be a CUDA device index (0, 1, ...) or null for the CPU.");

        bool available = torch.cuda.is_available();
        int count = available ? torch.cuda.device_count() : 0;
        if (gpuDeviceId < count)
            return torch.device(DeviceType.CUDA, gpuDeviceId.Value);
        if (fallbackToCpu)
            return torch.CPU;

        string why = available
            ? $"this machine has {count} CUDA device(s), numbered from 0"
            : "CUDA is not available to TorchSharp in this process (the TorchSharp-cpu package has no CUDA support)";
        throw new InvalidOperationException(
            $"GpuDeviceId = {gpuDeviceId} was requested, but {why}. Set MLContext.GpuDeviceId = null to run on the CPU, " +
            "or MLContext.FallbackToCpu = true to fall back to the CPU when the GPU is missing.");
    }
}
