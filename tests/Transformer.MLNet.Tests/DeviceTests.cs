using Microsoft.ML;
using TorchSharp;

namespace Transformer.MLNet.Tests;

[TestClass]
public sealed class DeviceTests
{
    [TestMethod]
    public void MLContext_gpu_settings_select_the_device()
    {
        var cpu = new MLContext(seed: 1);
        Assert.AreEqual(DeviceType.CPU, cpu.GetTorchDevice().type);

        int missing = torch.cuda.is_available() ? torch.cuda.device_count() : 0;
        var strict = new MLContext(seed: 1) { GpuDeviceId = missing, FallbackToCpu = false };
        var error = Assert.ThrowsExactly<InvalidOperationException>(() => strict.GetTorchDevice());
        StringAssert.Contains(error.Message, "MLContext.FallbackToCpu");

        var lenient = new MLContext(seed: 1) { GpuDeviceId = missing, FallbackToCpu = true };
        Assert.AreEqual(DeviceType.CPU, lenient.GetTorchDevice().type);
    }
}
