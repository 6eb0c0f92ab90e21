namespace Transformer.MLNet.Network.Tests.Training;

/// <summary>
/// A clock for <c>TrainingLoopOptions.Clock</c> that moves only when told to, so that a time budget is spent in the
/// same updates however loaded the machine is.
/// </summary>
internal sealed class ManualClock : TimeProvider
{
    private long ticks;

    public override long TimestampFrequency => TimeSpan.TicksPerSecond;

    public override long GetTimestamp() => Interlocked.Read(ref ticks);

    public void Advance(TimeSpan by) => Interlocked.Add(ref ticks, by.Ticks);
}
