using Transformer.MLNet.Network.Runtime;

// One class, one in-memory server: its requests share one model and one forward-pass gate.
[assembly: Parallelize(Workers = 1, Scope = ExecutionScope.ClassLevel)]

namespace Transformer.MLNet.Service.Tests;

[TestClass]
public static class AssemblySetup
{
    [AssemblyInitialize]
    public static void Initialize(TestContext context) => TorchRuntime.EnsureLoaded();
}
