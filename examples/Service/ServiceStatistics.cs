namespace Transformer.MLNet.Examples.Service;

/// <summary>Counters of the work done, for tests and the load benchmark.</summary>
public sealed class ServiceStatistics
{
    private long _textsClassified;
    private long _textsEmbedded;
    private long _cancelledRequests;

    /// <summary>Texts classified by <c>/sentiment</c>.</summary>
    public long TextsClassified => Interlocked.Read(ref _textsClassified);

    /// <summary>Texts embedded by <c>/embed</c> and <c>/similar</c>.</summary>
    public long TextsEmbedded => Interlocked.Read(ref _textsEmbedded);

    /// <summary>Requests whose client went away before the answer, and whose work stopped.</summary>
    public long CancelledRequests => Interlocked.Read(ref _cancelledRequests);

    internal void AddClassified(int texts) => Interlocked.Add(ref _textsClassified, texts);

    internal void AddEmbedded(int texts) => Interlocked.Add(ref _textsEmbedded, texts);

    internal void AddCancelled() => Interlocked.Increment(ref _cancelledRequests);
}
