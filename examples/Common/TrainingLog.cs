using System.Globalization;
using Transformer.MLNet.Network.Generation;
using Transformer.MLNet.Network.Training;

namespace Transformer.MLNet.Examples.Common;

/// <summary>Prints every progress report of a generative trainer, keeps them, and draws them as loss curves.</summary>
public sealed class TrainingLog : IProgress<TrainingProgress>
{
    /// <summary>Every report received, in order.</summary>
    public List<TrainingProgress> Reports { get; } = [];

    /// <inheritdoc/>
    public void Report(TrainingProgress value)
    {
        Reports.Add(value);
        string validation = value.ValidationMetric is { } v ? FormattableString.Invariant($" validation loss {v:F3}") : "";
        Console.WriteLine(FormattableString.Invariant(
            $"  step {value.Step,6} epoch {value.Epoch} train loss {value.TrainLoss:F3}{validation} lr {value.LearningRate:E2} {value.Elapsed:mm\\:ss}"));
    }

    /// <summary>Training and validation loss against updates, as a PNG.</summary>
    public string SaveCurves(string path, string title, string yLabel, string trainingName, string validationName)
    {
        var validated = Reports.Where(r => r.ValidationMetric is not null).ToList();
        return Charts.SaveLines(path, title, "update", yLabel,
            new Series(trainingName, [.. Reports.Select(r => (double)r.Step)], [.. Reports.Select(r => r.TrainLoss)]),
            new Series(validationName, [.. validated.Select(r => (double)r.Step)], [.. validated.Select(r => r.ValidationMetric!.Value)]));
    }
}

/// <summary>Command-line options of the examples.</summary>
public static class ExampleArguments
{
    /// <summary>The number after <paramref name="name"/> in <paramref name="args"/>, or <paramref name="fallback"/>.</summary>
    public static double Number(string[] args, string name, double fallback)
    {
        int at = Array.IndexOf(args, name);
        return at >= 0 && at + 1 < args.Length ? double.Parse(args[at + 1], CultureInfo.InvariantCulture) : fallback;
    }
}
