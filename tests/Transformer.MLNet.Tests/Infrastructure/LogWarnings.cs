using Microsoft.ML;
using Microsoft.ML.Runtime;

namespace Transformer.MLNet.Tests.Infrastructure;

/// <summary>Collects the warnings an <see cref="MLContext"/> logs from now on.</summary>
internal sealed class LogWarnings
{
    private readonly List<string> warnings = [];

    public LogWarnings(MLContext mlContext) => mlContext.Log += (_, e) =>
    {
        if (e.Kind == ChannelMessageKind.Warning)
            lock (warnings) warnings.Add(e.Message);
    };

    /// <summary>The warnings so far.</summary>
    public IReadOnlyList<string> Snapshot()
    {
        lock (warnings) return [.. warnings];
    }

    public void Clear()
    {
        lock (warnings) warnings.Clear();
    }
}
