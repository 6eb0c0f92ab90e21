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

    /// <summary>Warns (in <see cref="MLContext.Log"/>) when <paramref name="precision"/> is bfloat16 on a CPU without bfloat16 instructions.</summary>
    public void CheckPrecision(TrainingPrecision precision, TorchSharp.torch.Device device)
    {
        if (BFloat16Advice.Warning(precision == TrainingPrecision.BFloat16, device, "Precision = BFloat16") is { } warning)
            channel.Warning(MessageSensitivity.None, warning);
    }

    /// <summary>Warns (in <see cref="MLContext.Log"/>) when <c>SkipNonFiniteBatches</c> dropped micro-batches.</summary>
    public void CheckSkipped(TrainingResult result)
    {
        if (result.SkippedBatches > 0)
        {
            channel.Warning(MessageSensitivity.None,
                $"SkipNonFiniteBatches dropped {result.SkippedBatches} micro-batches whose loss or gradients were NaN or infinite; " +
                "if that is more than a few, lower LearningRate.");
        }
    }

    public void Report(TrainingProgress value)
    {
        channel.Info(MessageSensitivity.None, value.ToString());
        user?.Report(value);
    }

    public void Dispose() => channel.Dispose();
}
