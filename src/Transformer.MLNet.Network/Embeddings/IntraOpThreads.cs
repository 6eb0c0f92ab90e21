using TorchSharp;

namespace Transformer.MLNet.Network.Embeddings;

/// <summary>
/// Sets TorchSharp's process-wide intra-op thread count to 1 while at least one holder is alive, and restores the
/// previous count when the last one is disposed (so overlapping holders on different threads do not clobber it).
/// </summary>
internal static class IntraOpThreads
{
    private static readonly Lock Gate = new();
    private static int _holders;
    private static int _previous;

    /// <summary>Enters the single-threaded section.</summary>
    public static IDisposable UseOne()
    {
        lock (Gate)
        {
            if (_holders++ == 0)
            {
                _previous = torch.get_num_threads();
                torch.set_num_threads(1);
            }
        }

        return new Holder();
    }

    private sealed class Holder : IDisposable
    {
        private bool _disposed;

        public void Dispose()
        {
            lock (Gate)
            {
                if (_disposed)
                    return;
                _disposed = true;
                if (--_holders == 0)
                    torch.set_num_threads(_previous);
            }
        }
    }
}
