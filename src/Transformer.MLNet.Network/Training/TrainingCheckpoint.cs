using System.Text.Json;
using System.Text.Json.Serialization;
using TorchSharp;
using Transformer.MLNet.Network.IO;
using Transformer.MLNet.Network.Pretrained;
using static TorchSharp.torch;

namespace Transformer.MLNet.Network.Training;

/// <summary>
/// The resumable state of a <see cref="TrainingLoop"/> run, for any task and precision, kept in a folder: <c>progress.json</c>
/// (where the run stands), <c>model.safetensors</c> (float32 weights: the master weights of a bfloat16 run),
/// <c>optimizer.bin</c> (update count and AdamW moments), <c>rng.bin</c>
/// (TorchSharp's generator, for dropout) and, with validation, <c>best.safetensors</c> (the best evaluation's weights). Data order is not stored: it is
/// replayed from the seed. <c>progress.json</c> is written last, so a folder without it holds no checkpoint.
/// </summary>
internal sealed record TrainingCheckpoint(
    int Seed, int TrainingRows, int Epoch, int NextMicroBatch, double EpochLossSum, int EpochLossCount, double IntervalLossSum,
    int IntervalLossCount, double LastTrainLoss, long ExamplesSeen, double ElapsedSeconds, double? WarmupEndedSeconds,
    List<double> Losses, List<double> ValidationMetrics, double? BestMetric, int BestEpoch, bool BestIsCurrent, int EvaluationsWithoutGain)
{
    private const string ProgressFile = "progress.json", ModelFile = "model.safetensors", OptimizerFile = "optimizer.bin",
        RandomFile = "rng.bin", BestFile = "best.safetensors";

    private static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    /// <summary>Whether <paramref name="folder"/> holds a complete checkpoint.</summary>
    public static bool Exists(string folder) => File.Exists(Path.Combine(folder, ProgressFile));

    /// <summary>Writes the checkpoint; the previous one stays valid until the new <c>progress.json</c> replaces it.</summary>
    public void Save(string folder, ParameterUpdater updater, IReadOnlyDictionary<string, Tensor>? best)
    {
        Directory.CreateDirectory(folder);
        File.Delete(Path.Combine(folder, ProgressFile));
        SafeTensors.Write(Path.Combine(folder, ModelFile), updater.Float32State());
        updater.SaveState(Path.Combine(folder, OptimizerFile));
        using (var state = torch.random.get_rng_state())
            AtomicFile.WriteAllBytes(Path.Combine(folder, RandomFile), state.data<byte>().ToArray());
        string bestPath = Path.Combine(folder, BestFile);
        if (best is not null)
            SafeTensors.Write(bestPath, best);
        else
            File.Delete(bestPath);
        AtomicFile.WriteAllText(Path.Combine(folder, ProgressFile), JsonSerializer.Serialize(this, Json));
    }

    /// <summary>Reads the progress record of the checkpoint in <paramref name="folder"/>.</summary>
    /// <exception cref="InvalidDataException">The checkpoint is unreadable or belongs to another run.</exception>
    public static TrainingCheckpoint Read(string folder, int seed, int trainingRows)
    {
        string path = Path.Combine(folder, ProgressFile);
        TrainingCheckpoint? checkpoint;
        try
        {
            checkpoint = JsonSerializer.Deserialize<TrainingCheckpoint>(File.ReadAllText(path), Json);
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"Checkpoint '{path}' is not valid JSON: {e.Message}. Delete the folder to start afresh.", e);
        }

        if (checkpoint is null || checkpoint.Losses is null || checkpoint.ValidationMetrics is null)
            throw new InvalidDataException($"Checkpoint '{path}' is incomplete. Delete the folder to start afresh.");
        if (checkpoint.Seed != seed || checkpoint.TrainingRows != trainingRows)
        {
            throw new InvalidDataException(
                $"The checkpoint in '{folder}' was written by a run with seed {checkpoint.Seed} on {checkpoint.TrainingRows} rows, " +
                $"not seed {seed} on {trainingRows} rows; resume with the same data and Seed, or use another CheckpointFolder.");
        }

        return checkpoint;
    }

    /// <summary>Puts the weights, optimizer state and random state back; returns the best evaluation's weights, if kept.</summary>
    public static Dictionary<string, Tensor>? Restore(string folder, ParameterUpdater updater)
    {
        var weights = SafeTensors.Read(Path.Combine(folder, ModelFile));
        try
        {
            updater.LoadFloat32State(weights, Path.Combine(folder, ModelFile));
        }
        finally
        {
            foreach (var t in weights.Values)
                t.Dispose();
        }

        updater.LoadState(Path.Combine(folder, OptimizerFile));
        byte[] state = File.ReadAllBytes(Path.Combine(folder, RandomFile));
        using (var stateTensor = tensor(state, ScalarType.Byte))
            torch.random.set_rng_state(stateTensor);
        string bestPath = Path.Combine(folder, BestFile);
        if (!File.Exists(bestPath))
            return null;
        return SafeTensors.Read(bestPath).ToDictionary(kv => kv.Key, kv => kv.Value.DetachFromDisposeScope());
    }

    /// <summary>Removes the checkpoint's files (not the folder's other content).</summary>
    public static void Delete(string folder)
    {
        foreach (string name in new[] { ProgressFile, ModelFile, OptimizerFile, RandomFile, BestFile })
            File.Delete(Path.Combine(folder, name));
    }
}
