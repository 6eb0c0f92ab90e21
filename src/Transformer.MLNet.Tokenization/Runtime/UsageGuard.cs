namespace Transformer.MLNet.Network.Runtime;

/// <summary>
/// Keeps native state (TorchSharp modules and tensors) alive while it is in use. Every call that touches the state
/// runs inside <see cref="Enter"/>; any number of threads may be inside at once, and entering costs one
/// compare-and-swap. <see cref="Dispose"/> stops new entries (they throw <see cref="ObjectDisposedException"/> naming
/// the owner's type), waits for the calls already inside to leave, and only then runs the release. Disposing again
/// does nothing. A thread that disposes from inside a call of its own (which would wait for itself forever) leaves the
/// release to the last call to leave. It lives here, free of TorchSharp, because both the networks and the ML.NET
/// transformers over them (which do not reference TorchSharp) guard their state with it.
/// </summary>
internal sealed class UsageGuard
{
    private const int DisposedFlag = 1 << 30;
    private const int CountMask = DisposedFlag - 1;

    // The guards each thread is inside, innermost last; only to tell whether Dispose would wait for its own thread.
    [ThreadStatic]
    private static List<UsageGuard>? t_entered;

    private readonly Type owner;
    private readonly object sync = new();   // Monitor.Wait/PulseAll, which System.Threading.Lock has not
    private int state;               // calls inside (low bits) | DisposedFlag
    private Action? deferredRelease; // set when the disposing thread was itself inside

    /// <summary>Creates a guard for an object of type <paramref name="owner"/> (named by <see cref="ObjectDisposedException"/>).</summary>
    public UsageGuard(Type owner)
    {
        ArgumentNullException.ThrowIfNull(owner);
        this.owner = owner;
    }

    /// <summary>Whether <see cref="Dispose"/> has been called (the release may still be waiting for calls inside).</summary>
    public bool IsDisposed => (Volatile.Read(ref state) & DisposedFlag) != 0;

    /// <summary>Enters a use of the state; dispose the result (a <c>using</c>) on the same thread to leave it.</summary>
    /// <exception cref="ObjectDisposedException">The owner has been disposed.</exception>
    public Use Enter()
    {
        while (true)
        {
            int current = Volatile.Read(ref state);
            if ((current & DisposedFlag) != 0)
                throw new ObjectDisposedException(owner.FullName);
            if ((current & CountMask) == CountMask)
                throw new InvalidOperationException($"Too many concurrent calls into {owner.Name}.");
            if (Interlocked.CompareExchange(ref state, current + 1, current) == current)
                break;
        }

        (t_entered ??= []).Add(this);
        return new Use(this);
    }

    /// <summary>Throws <see cref="ObjectDisposedException"/> naming the owner's type once it has been disposed.</summary>
    public void ThrowIfDisposed()
    {
        if (IsDisposed)
            throw new ObjectDisposedException(owner.FullName);
    }

    /// <summary>
    /// Refuses new uses, waits for those inside to leave, then runs <paramref name="release"/> once. A second call
    /// returns at once. Called by a thread that is itself inside, it returns at once and the last use to leave runs
    /// <paramref name="release"/>.
    /// </summary>
    /// <returns>False when the guard had already been disposed.</returns>
    public bool Dispose(Action release)
    {
        ArgumentNullException.ThrowIfNull(release);
        if (t_entered is { } entered && entered.Contains(this))
        {
            // This thread's own use is still inside: waiting would never end. Its exit, or a later one, releases.
            Volatile.Write(ref deferredRelease, release);
            if ((Interlocked.Or(ref state, DisposedFlag) & DisposedFlag) != 0)
            {
                Volatile.Write(ref deferredRelease, null);
                return false;
            }

            return true;
        }

        if ((Interlocked.Or(ref state, DisposedFlag) & DisposedFlag) != 0)
            return false;
        lock (sync)
        {
            while ((Volatile.Read(ref state) & CountMask) != 0)
                Monitor.Wait(sync);
        }

        release();
        return true;
    }

    private void Exit()
    {
        var entered = t_entered;
        if (entered is not null)
        {
            int at = entered.LastIndexOf(this);
            if (at >= 0)
                entered.RemoveAt(at);
        }

        if (Interlocked.Decrement(ref state) != DisposedFlag)
            return;

        // The last use left a disposed guard: wake the disposer, or release on its behalf.
        lock (sync)
            Monitor.PulseAll(sync);
        Interlocked.Exchange(ref deferredRelease, null)?.Invoke();
    }

    /// <summary>One use of the guarded state; disposing it leaves.</summary>
    internal readonly struct Use : IDisposable
    {
        private readonly UsageGuard? guard;

        internal Use(UsageGuard guard) => this.guard = guard;

        /// <summary>Leaves the use.</summary>
        public void Dispose() => guard?.Exit();
    }
}
