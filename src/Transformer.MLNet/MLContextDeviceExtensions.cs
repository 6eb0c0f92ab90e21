using Microsoft.ML;
using TorchSharp;
using Transformer.MLNet.Network.Runtime;

namespace Transformer.MLNet;

/// <summary>Device selection from an <see cref="MLContext"/>'s GPU settings.</summary>
public static class MLContextDeviceExtensions
{
    /// <summary>
    /// The device our components run on: CPU when <see cref="MLContext.GpuDeviceId"/> is null, else that CUDA device;
    /// when it is unavailable, the CPU if <see cref="MLContext.FallbackToCpu"/> is true, otherwise an error.
    /// </summary>
    public static torch.Device GetTorchDevice(this MLContext mlContext)
    {
        ArgumentNullException.ThrowIfNull(mlContext);
        return TorchDevices.Select(mlContext.GpuDeviceId, mlContext.FallbackToCpu);
    }
}
