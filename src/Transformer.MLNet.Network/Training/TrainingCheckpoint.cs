using System.Buffers.Binary;
using System.Globalization;
using System.Security.Cryptography;
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
/// replayed from the seed. <c>progress.json</c> is written last, so a folder without it holds no checkpoint. It also
/// records the settings that decide the run's course (<see cref="Settings"/>) and the SHA-256 of <c>rng.bin</c>, so that
/// a resumed run with other settings, or a damaged file, is refused with a managed error before anything is restored.
/// </summary>
internal sealed record TrainingCheckpoint(
    int Seed, int TrainingRows, int Epoch, int NextMicroBatch, double EpochLossSum, int EpochLossCount, double IntervalLossSum,
    int IntervalLossCount, double LastTrainLoss, long ExamplesSeen, double ElapsedSeconds, double? WarmupEndedSeconds,
    List<double> Losses, List<double> ValidationMetrics, double? BestMetric, int BestEpoch, bool BestIsCurrent, int EvaluationsWithoutGain)
{
    /// <summary>The run's settings as <see cref="SettingsOf"/> gives them (null in checkpoints written before they were kept).</summary>
    public Dictionary<string, string>? Settings { get; init; }

    /// <summary>SHA-256 of <c>rng.bin</c>, hex (null in checkpoints written before it was kept).</summary>
    public string? RandomStateSha256 { get; init; }

    // The longest elapsed time a checkpoint may claim: far beyond any run, far below TimeSpan's limit.
    private const double MaxElapsedSeconds = 1e9;

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
        byte[] randomState;
        using (var state = torch.random.get_rng_state())
            randomState = state.data<byte>().ToArray();
        AtomicFile.WriteAllBytes(Path.Combine(folder, RandomFile), randomState);
        string bestPath = Path.Combine(folder, BestFile);
        if (best is not null)
            SafeTensors.Write(bestPath, best);
        else
            File.Delete(bestPath);
        var record = this with { RandomStateSha256 = Convert.ToHexString(SHA256.HashData(randomState)) };
        AtomicFile.WriteAllText(Path.Combine(folder, ProgressFile), JsonSerializer.Serialize(record, Json));
    }

    /// <summary>
    /// The settings a resumed run must share with the run that wrote the checkpoint for it to end as the uninterrupted run
    /// would: those that shape the schedule, the batches and the updates. <see cref="TrainingLoopOptions.TimeBudget"/>,
    /// validation and reporting may change between the two.
    /// </summary>
    public static Dictionary<string, string> SettingsOf(TrainingLoopOptions options)
    {
        var o = options.Optimization;
        static string Text(IFormattable? value) => value?.ToString(null, CultureInfo.InvariantCulture) ?? "none";
        return new()
        {
            ["Epochs"] = Text(options.Epochs), ["MaxSteps"] = Text(options.MaxSteps), ["BatchSize"] = Text(options.BatchSize),
            ["WarmupFraction"] = Text(options.WarmupFraction), ["LearningRate"] = Text(o.LearningRate), ["WeightDecay"] = Text(o.WeightDecay),
            ["Beta1"] = Text(o.Beta1), ["Beta2"] = Text(o.Beta2), ["Epsilon"] = Text(o.Epsilon), ["WarmupSteps"] = Text(o.WarmupSteps),
            ["Decay"] = o.Decay.ToString(), ["MaxGradientNorm"] = Text(o.MaxGradientNorm), ["AccumulationSteps"] = Text(o.AccumulationSteps),
            ["LabelSmoothing"] = Text(o.LabelSmoothing), ["Precision"] = o.Precision.ToString(),
        };
    }

    /// <summary>Reads the progress record of the checkpoint in <paramref name="folder"/> and checks that this run can resume from it.</summary>
    /// <param name="folder">The checkpoint folder.</param>
    /// <param name="seed">This run's seed.</param>
    /// <param name="trainingRows">This run's training examples.</param>
    /// <param name="options">This run's options (their <see cref="SettingsOf"/> must match the checkpoint's).</param>
    /// <param name="microBatchesPerEpoch">This run's micro-batches per epoch.</param>
    /// <exception cref="InvalidDataException">The checkpoint is unreadable, damaged or belongs to another run.</exception>
    public static TrainingCheckpoint Read(string folder, int seed, int trainingRows, TrainingLoopOptions options, int microBatchesPerEpoch)
    {
        var settings = SettingsOf(options);
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

        // Each setting this run has that the checkpoint recorded otherwise (a setting added later is not compared).
        var changed = checkpoint.Settings is { } written
            ? settings.Where(kv => written.TryGetValue(kv.Key, out string? then) && then != kv.Value)
                .Select(kv => $"{kv.Key}: {written[kv.Key]} then, {kv.Value} now").ToList()
            : [];
        if (changed.Count > 0)
        {
            throw new InvalidDataException(
                $"The checkpoint in '{folder}' was written by a run with other training settings ({string.Join("; ", changed)}); resume with the " +
                "same settings, or use another CheckpointFolder to start afresh.");
        }

        checkpoint.CheckRanges(path, options.Epochs, microBatchesPerEpoch);
        return checkpoint;
    }

    /// <summary>Refuses values no run writes: a damaged or hand-edited <c>progress.json</c>.</summary>
    private void CheckRanges(string path, int epochs, int microBatchesPerEpoch)
    {
        void Require(bool ok, string field, object? value, string rule)
        {
            if (!ok)
            {
                throw new InvalidDataException(
                    $"Checkpoint '{path}' is damaged: {field} = {value} {rule}. Delete the folder to start afresh.");
            }
        }

        static bool Seconds(double s) => double.IsFinite(s) && s is >= 0 and <= MaxElapsedSeconds;
        Require(Epoch >= 1 && Epoch <= epochs, nameof(Epoch), Epoch, $"is not an epoch of this run (1 to {epochs})");
        Require(NextMicroBatch >= 0 && NextMicroBatch <= microBatchesPerEpoch, nameof(NextMicroBatch), NextMicroBatch,
            $"is not a micro-batch of this run (0 to {microBatchesPerEpoch})");
        Require(EpochLossCount >= 0, nameof(EpochLossCount), EpochLossCount, "is negative");
        Require(IntervalLossCount >= 0, nameof(IntervalLossCount), IntervalLossCount, "is negative");
        Require(ExamplesSeen >= 0, nameof(ExamplesSeen), ExamplesSeen, "is negative");
        Require(Seconds(ElapsedSeconds), nameof(ElapsedSeconds), ElapsedSeconds, "is not a duration");
        Require(WarmupEndedSeconds is null || Seconds(WarmupEndedSeconds.Value), nameof(WarmupEndedSeconds), WarmupEndedSeconds, "is not a duration");
        Require(Losses.Count < Epoch, nameof(Losses), $"{Losses.Count} values", $"is more than the {Epoch - 1} epochs completed");
        Require(BestEpoch >= 0 && BestEpoch <= epochs, nameof(BestEpoch), BestEpoch, $"is not an epoch of this run (0 to {epochs})");
        Require(EvaluationsWithoutGain >= 0, nameof(EvaluationsWithoutGain), EvaluationsWithoutGain, "is negative");
    }

    /// <summary>Puts the weights, optimizer state and random state back; returns the best evaluation's weights, if kept.</summary>
    /// <exception cref="InvalidDataException">A file of the checkpoint is damaged.</exception>
    public Dictionary<string, Tensor>? Restore(string folder, ParameterUpdater updater)
    {
        string? expectedSha256 = RandomStateSha256;
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
        string randomPath = Path.Combine(folder, RandomFile);
        byte[] state = File.ReadAllBytes(randomPath);
        CheckRandomState(state, randomPath, expectedSha256);
        using (var stateTensor = tensor(state, ScalarType.Byte))
            torch.random.set_rng_state(stateTensor);
        string bestPath = Path.Combine(folder, BestFile);
        if (!File.Exists(bestPath))
            return null;
        var best = SafeTensors.Read(bestPath);
        try
        {
            StateDictLoader.CheckFinite(best, bestPath);
        }
        catch
        {
            foreach (var t in best.Values)
                t.Dispose();
            throw;
        }

        return best.ToDictionary(kv => kv.Key, kv => kv.Value.DetachFromDisposeScope());
    }

    /// <summary>
    /// Checks <c>rng.bin</c> before libtorch sees it: libtorch rejects a wrong state by throwing a native exception that
    /// TorchSharp does not catch, which ends the process. The file must have the length of this libtorch's state and the
    /// checksum the checkpoint recorded; where the state is libtorch's Mersenne Twister record (5,056 bytes), its
    /// position fields must also be in range, as libtorch requires.
    /// </summary>
    private static void CheckRandomState(byte[] state, string path, string? expectedSha256)
    {
        long expectedLength;
        using (var current = torch.random.get_rng_state())
            expectedLength = current.numel();
        if (state.Length != expectedLength)
        {
            throw new InvalidDataException(
                $"Random state '{path}' has {state.Length} bytes, not the {expectedLength} of a random state; the checkpoint is damaged. " +
                "Delete the folder to start afresh.");
        }

        if (expectedSha256 is not null && !string.Equals(Convert.ToHexString(SHA256.HashData(state)), expectedSha256, StringComparison.OrdinalIgnoreCase))
        {
            throw new InvalidDataException(
                $"Random state '{path}' does not match the checksum its checkpoint recorded; the checkpoint is damaged. Delete the folder to start afresh.");
        }

        // libtorch's CPU generator record: the initial seed (8 bytes), then `left` and `seeded` (4 each), then `next` (8),
        // then 624 state words; the generator is valid when seeded, 0 < left <= 624 and next <= 624.
        const int StateWords = 624, MersenneRecordLength = 5056;
        if (state.Length == MersenneRecordLength)
        {
            int left = BinaryPrimitives.ReadInt32LittleEndian(state.AsSpan(8));
            int seeded = BinaryPrimitives.ReadInt32LittleEndian(state.AsSpan(12));
            uint next = (uint)BinaryPrimitives.ReadUInt64LittleEndian(state.AsSpan(16));
            if (seeded == 0 || left is <= 0 or > StateWords || next > StateWords)
            {
                throw new InvalidDataException(
                    $"Random state '{path}' is not a valid generator state; the checkpoint is damaged. Delete the folder to start afresh.");
            }
        }
    }

    /// <summary>Removes the checkpoint's files (not the folder's other content).</summary>
    public static void Delete(string folder)
    {
        foreach (string name in new[] { ProgressFile, ModelFile, OptimizerFile, RandomFile, BestFile })
            File.Delete(Path.Combine(folder, name));
    }
}
