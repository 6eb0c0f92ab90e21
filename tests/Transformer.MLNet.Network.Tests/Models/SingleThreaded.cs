using TorchSharp;

namespace Transformer.MLNet.Network.Tests.Models;

/// <summary>
/// Runs libtorch on one thread for the scope's lifetime. Tiny models gain nothing from intra-op threads, and on a
/// shared, busy machine spinning worker threads made these tests about 8× slower.
/// </summary>
internal sealed class SingleThreaded : IDisposable
{
    private readonly int previous = torch.get_num_threads();

    private SingleThreaded() => torch.set_num_threads(1);

    public static SingleThreaded Enter() => new();

    public void Dispose() => torch.set_num_threads(previous);
}
