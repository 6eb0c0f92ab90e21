using System.Globalization;
using System.Runtime.InteropServices;
using Transformer.MLNet.Network.Runtime;
using static TorchSharp.torch;

namespace Transformer.MLNet.Benchmarks;

/// <summary>
/// <c>--native-check</c>: loads TorchSharp's native side (from <see cref="TorchRuntime.LibTorchVariable"/> when set),
/// reports what loaded and whether CUDA is available, and checks one matmul and its gradient on the chosen device
/// against the CPU. Any failure is printed with what failed (loader error, missing entry point = version mismatch).
/// </summary>
internal static class NativeCheck
{
    public static int Run(string[] args)
    {
        try
        {
            var status = TorchRuntime.EnsureLoaded();
            Console.WriteLine($"TorchRuntime: {status.Action}: {status.Detail}");
            Console.WriteLine($"shim in process: {TorchRuntime.LoadedLibraryPath("libLibTorchSharp.so")}; libtorch: {TorchRuntime.LoadedLibraryPath("libtorch_cpu.so")}");
            bool available = cuda.is_available();
            Console.WriteLine($"torch.cuda.is_available(): {available}{(available ? $", {cuda.device_count()} device(s)" : "")}");
            var options = BenchmarkOptions.Parse(args);
            using var scope = NewDisposeScope();
            var a = randn(64, 64);
            var b = randn(64, 64);
            var onDevice = a.to(options.Device).requires_grad_(true);
            var product = onDevice.matmul(b.to(options.Device));
            product.sum().backward();
            double error = (product.cpu() - a.matmul(b)).abs().max().item<float>();
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"matmul + backward on {options.Device}: max |difference from CPU| = {error:G3}, gradient shape [{string.Join(", ", onDevice.grad!.shape)}]"));
            if (error > 1e-2)
            {
                Console.Error.WriteLine("FAILED: the device computes different numbers from the CPU.");
                return 4;
            }

            Console.WriteLine("native check: OK");
            return 0;
        }
        catch (Exception e) when (e is InvalidOperationException or DllNotFoundException or EntryPointNotFoundException
                                      or TypeInitializationException or NotSupportedException or ExternalException)
        {
            Console.Error.WriteLine($"FAILED: the native libraries do not work together: {e.GetType().Name}: {e.Message}");
            for (var inner = e.InnerException; inner is not null; inner = inner.InnerException)
                Console.Error.WriteLine($"  caused by {inner.GetType().Name}: {inner.Message}");
            return 3;
        }
    }
}
