using TorchSharp;

namespace Transformer.MLNet.Tests.Reliability;

/// <summary>
/// Runs libtorch's intra-op work on one thread for the scope's lifetime: a tiny model gains nothing from more, and on a
/// shared, busy CPU the spinning worker threads make single-row predictions many times slower.
/// </summary>
internal sealed class OneTorchThread : IDisposable
{
    private readonly int previous = torch.get_num_threads();

    public OneTorchThread() => torch.set_num_threads(1);

    public void Dispose() => torch.set_num_threads(previous);
}
