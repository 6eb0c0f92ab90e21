using System.Globalization;
using Transformer.MLNet.Network.Classification;
using Transformer.MLNet.Network.Training;

namespace Sentiment;

/// <summary>A live progress bar for fine-tuning; one line per epoch when the output is redirected.</summary>
internal sealed class ConsoleProgressBar : IProgress<TrainingProgress>
{
    private const int Width = 30;

    /// <summary>Every report received, for the training-curve picture.</summary>
    public List<TrainingProgress> Reports { get; } = [];

    public void Report(TrainingProgress value)
    {
        Reports.Add(value);
        if (Console.IsOutputRedirected)
        {
            if (value.EpochCompleted)
                Console.WriteLine("    " + value);
            return;
        }

        int filled = (int)(Width * value.Step / Math.Max(1, value.TotalSteps));
        string bar = new string('#', filled) + new string('.', Width - filled);
        string line = string.Create(CultureInfo.InvariantCulture,
            $"\r    [{bar}] epoch {value.Epoch}/{value.Epochs} step {value.Step}/{value.TotalSteps} loss {value.TrainLoss:F3} lr {value.LearningRate:G2} {value.ExamplesPerSecond:F0} ex/s ETA {(int)value.Remaining.TotalMinutes}:{value.Remaining.Seconds:00}");
        Console.Write(line.PadRight(Console.WindowWidth > 0 ? Math.Min(Console.WindowWidth - 1, 120) : 120));
        if (value.EpochCompleted && value.Epoch == value.Epochs)
            Console.WriteLine();
    }
}
