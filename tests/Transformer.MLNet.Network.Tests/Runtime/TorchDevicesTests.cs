using TorchSharp;
using Transformer.MLNet.Network.Runtime;

namespace Transformer.MLNet.Network.Tests.Runtime;

[TestClass]
public sealed class TorchDevicesTests
{
    [TestMethod]
    public void No_gpu_id_means_cpu()
    {
        Assert.AreEqual(DeviceType.CPU, TorchDevices.Select(null, fallbackToCpu: false).type);
    }

    [TestMethod]
    public void Unavailable_gpu_falls_back_or_fails_clearly()
    {
        int beyond = torch.cuda.is_available() ? torch.cuda.device_count() : 0;
        Assert.AreEqual(DeviceType.CPU, TorchDevices.Select(beyond, fallbackToCpu: true).type);

        var error = Assert.ThrowsExactly<InvalidOperationException>(() => TorchDevices.Select(beyond, fallbackToCpu: false));
        StringAssert.Contains(error.Message, $"GpuDeviceId = {beyond}");
        StringAssert.Contains(error.Message, "FallbackToCpu");

        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => TorchDevices.Select(-1, fallbackToCpu: true));
    }
}
