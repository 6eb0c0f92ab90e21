using TorchSharp;
using Transformer.MLNet.Network.Runtime;

namespace Transformer.MLNet.Serving;

/// <summary>
/// Bounds how many forward passes run at once across every model of a process (the embedding generator, a loaded
/// pipeline, ...), and sizes TorchSharp's intra-op threads to the cores each pass gets. Concurrent CPU-bound passes
/// that each use every core do not finish sooner: they thrash, and on 2 cores a second job slows inference 4–6×.
/// Waiting requests queue here, asynchronously, and stop waiting when their <see cref="CancellationToken"/> fires.
/// </summary>
public sealed class ForwardPassGate : IDisposable
{
    private readonly SemaphoreSlim _slots;
    private readonly CancellationTokenSource _disposed = new();
    private long _waiting;

    /// <summary>Creates a gate.</summary>
    /// <param name="maxConcurrentPasses">Forward passes allowed at once; 1 (default) gives each pass every core, which
    /// is fastest for a CPU. More helps only where passes wait on something other than the CPU (a GPU).</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxConcurrentPasses"/> is below 1.</exception>
    public ForwardPassGate(int maxConcurrentPasses = 1)
    {
        if (maxConcurrentPasses < 1)
            throw new ArgumentOutOfRangeException(nameof(maxConcurrentPasses), maxConcurrentPasses, "maxConcurrentPasses must be at least 1.");
        MaxConcurrentPasses = maxConcurrentPasses;
        _slots = new SemaphoreSlim(maxConcurrentPasses, maxConcurrentPasses);
    }

    /// <summary>Forward passes allowed at once.</summary>
    public int MaxConcurrentPasses { get; }

    /// <summary>Intra-op threads each pass should use so that all passes together fill the cores and no more:
    /// the cores available to this process (<see cref="Environment.ProcessorCount"/>, which honours affinity and
    /// container limits) divided by <see cref="MaxConcurrentPasses"/>, at least 1.</summary>
    public int ThreadsPerPass => Math.Max(1, Environment.ProcessorCount / MaxConcurrentPasses);

    /// <summary>Passes running now.</summary>
    public int ActivePasses => MaxConcurrentPasses - _slots.CurrentCount;

    /// <summary>Callers waiting for a slot now.</summary>
    public long WaitingCallers => Interlocked.Read(ref _waiting);

    /// <summary>
    /// Sets TorchSharp's process-wide intra-op thread count to <see cref="ThreadsPerPass"/>. LibTorch's own default
    /// counts the machine's physical cores, which in a container or under a CPU affinity mask can exceed the cores
    /// this process may use. Call once at startup, before serving.
    /// </summary>
    public void LimitIntraOpThreads()
    {
        TorchRuntime.EnsureLoaded();
        torch.set_num_threads(ThreadsPerPass);
    }

    /// <summary>Waits for a slot; dispose the result to give it back.</summary>
    /// <param name="cancellationToken">Stops the wait (an <see cref="OperationCanceledException"/>); no slot is taken then.</param>
    /// <exception cref="ObjectDisposedException">The gate is disposed, or was disposed while the caller waited.</exception>
    public async ValueTask<IDisposable> EnterAsync(CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed.IsCancellationRequested, this);
        Interlocked.Increment(ref _waiting);
        try
        {
            using var wait = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _disposed.Token);
            await _slots.WaitAsync(wait.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new ObjectDisposedException(nameof(ForwardPassGate), "The gate was disposed while this caller waited for a forward pass.");
        }
        finally
        {
            Interlocked.Decrement(ref _waiting);
        }

        return new Slot(_slots);
    }

    /// <summary>
    /// Refuses new callers and wakes the waiting ones with an <see cref="ObjectDisposedException"/>. Passes running now
    /// finish, and their slots can still be given back. (A disposed <see cref="SemaphoreSlim"/> would neither wake its
    /// waiters nor take slots back, so the semaphore is left to the garbage collector: it holds no handle until one is
    /// asked of it.)
    /// </summary>
    public void Dispose() => _disposed.Cancel();

    private sealed class Slot(SemaphoreSlim slots) : IDisposable
    {
        private int _released;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0)
                slots.Release();
        }
    }
}
