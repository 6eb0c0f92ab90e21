using Transformer.MLNet.Network.Runtime;

[assembly: Parallelize(Workers = 1, Scope = ExecutionScope.ClassLevel)]

namespace Transformer.MLNet.Network.Tests;

[TestClass]
public static class AssemblySetup
{
    [AssemblyInitialize]
    public static void Initialize(TestContext context)
    {
        var status = TorchRuntime.EnsureLoaded();
        context.WriteLine($"TorchRuntime: {status.Action}: {status.Detail}");
    }
}
