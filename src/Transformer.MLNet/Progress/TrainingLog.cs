using Microsoft.ML;
using Microsoft.ML.Runtime;
using Transformer.MLNet.Network.Training;

namespace Transformer.MLNet.Progress;

/// <summary>Sends training progress to <see cref="MLContext.Log"/> and to the caller's optional <see cref="IProgress{T}"/>.</summary>
internal sealed class TrainingLog : IProgress<TrainingProgress>, IDisposable
{
    private readonly IChannel channel;
    private readonly IProgress<TrainingProgress>? user;

    public TrainingLog(IHostEnvironment environment, string component, IProgress<TrainingProgress>? user)
    {
        channel = environment.Register(component).Start("Training");
        this.user = user;
    }

    public void Info(string message) => channel.Info(MessageSensitivity.None, message);

    public void Report(TrainingProgress value)
    {
        channel.Info(MessageSensitivity.None, value.ToString());
        user?.Report(value);
    }

    public void Dispose() => channel.Dispose();
}
