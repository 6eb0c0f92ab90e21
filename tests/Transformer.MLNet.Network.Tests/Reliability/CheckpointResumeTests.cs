using Transformer.MLNet.Network.Classification;
using Transformer.MLNet.Network.Embeddings;
using static TorchSharp.torch;

namespace Transformer.MLNet.Network.Tests.Reliability;

/// <summary>Fixed seed on CPU: same weights every run, and a cancelled run resumed from its checkpoint ends where an uninterrupted one does.</summary>
[TestClass]
public sealed class CheckpointResumeTests
{
    private static (string[] Texts, int[] Labels) data;

    [ClassInitialize]
    public static void Initialize(TestContext context) => data = TinyClassifiers.Sentences("imdb", 160);

    private static Dictionary<string, float[]> Weights(TextClassifier classifier) =>
        classifier.Model.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.to_type(ScalarType.Float32).data<float>().ToArray());

    private static void AssertSameWeights(Dictionary<string, float[]> expected, Dictionary<string, float[]> actual)
    {
        CollectionAssert.AreEquivalent(expected.Keys.ToList(), actual.Keys.ToList());
        foreach (var (name, values) in expected)
            CollectionAssert.AreEqual(values, actual[name], $"{name} differs");
    }

    [TestMethod]
    [TestCategory("Reliability")]
    [DataRow(1, 13)]   // cancelled in epoch 2 of 2, accumulation off
    [DataRow(2, 3)]    // gradient accumulation: cancellation waits for the update
    public void A_cancelled_run_resumed_from_its_checkpoint_ends_with_the_uninterrupted_weights(int accumulation, int cancelAtStep)
    {
        using var threads = IntraOpThreads.UseOne();
        var options = TinyClassifiers.Options(2) with
        {
            Optimization = TinyClassifiers.Options(2).Optimization with { AccumulationSteps = accumulation },
        };

        Dictionary<string, float[]> uninterrupted;
        using (var reference = TinyClassifiers.New(5))
        {
            TextClassifierTrainer.Train(reference, data.Texts, data.Labels, options);
            uninterrupted = Weights(reference);
        }

        using (var again = TinyClassifiers.New(5))
        {
            TextClassifierTrainer.Train(again, data.Texts, data.Labels, options);
            AssertSameWeights(uninterrupted, Weights(again));   // determinism: same seed, same weights, bit for bit
        }

        string folder = Path.Combine(Path.GetTempPath(), $"checkpoint-{Guid.NewGuid():N}");
        try
        {
            var checkpointed = options with { CheckpointFolder = folder };
            using (var interrupted = TinyClassifiers.New(5))
            {
                using var cancellation = new CancellationTokenSource();
                var progress = new TinyClassifiers.Callback(p =>
                {
                    if (p.Step == cancelAtStep)
                        cancellation.Cancel();
                });
                Assert.ThrowsExactly<OperationCanceledException>(() =>
                    TextClassifierTrainer.Train(interrupted, data.Texts, data.Labels, checkpointed with { Progress = progress }, cancellation: cancellation.Token));
            }

            Assert.IsTrue(File.Exists(Path.Combine(folder, "progress.json")), "cancellation wrote a checkpoint");

            // A new process would build a fresh classifier: even differently initialised, it resumes to the same weights.
            using var resumed = TinyClassifiers.New(99);
            var steps = new List<long>();
            var result = TextClassifierTrainer.Train(resumed, data.Texts, data.Labels, checkpointed with { Progress = new TinyClassifiers.Callback(p => steps.Add(p.Step)) });
            Assert.IsTrue(result.Resumed);
            Assert.AreEqual(2, result.Epochs);
            Assert.HasCount(2, result.TrainingLosses);
            Assert.IsGreaterThan((long)cancelAtStep, steps[0], "the resumed run starts after the checkpoint, not from step 1");
            AssertSameWeights(uninterrupted, Weights(resumed));
            Assert.IsFalse(File.Exists(Path.Combine(folder, "progress.json")), "a completed run removes its checkpoint");
        }
        finally
        {
            if (Directory.Exists(folder))
                Directory.Delete(folder, recursive: true);
        }
    }

    [TestMethod]
    [TestCategory("Reliability")]
    public void A_checkpoint_of_another_run_or_a_damaged_one_is_refused() => WithCheckpoint((folder, options, classifier) =>
    {
        var other = Assert.ThrowsExactly<InvalidDataException>(() =>
            TextClassifierTrainer.Train(classifier, data.Texts, data.Labels, options with { Seed = 2 }));
        StringAssert.Contains(other.Message, "seed 1 on 160 rows, not seed 2 on 160 rows");

        File.WriteAllBytes(Path.Combine(folder, "optimizer.bin"), [1, 2, 3]);
        var damaged = Assert.ThrowsExactly<InvalidDataException>(() => TextClassifierTrainer.Train(classifier, data.Texts, data.Labels, options));
        StringAssert.Contains(damaged.Message, "optimizer.bin");
    });

    /// <summary>
    /// Runs <paramref name="body"/> on a fresh folder holding the checkpoint of a run cancelled at its first report, with
    /// that run's options and classifier; the folder is removed afterwards.
    /// </summary>
    private static void WithCheckpoint(Action<string, ClassifierTrainingOptions, TextClassifier> body)
    {
        using var threads = IntraOpThreads.UseOne();
        string folder = Path.Combine(Path.GetTempPath(), $"checkpoint-{Guid.NewGuid():N}");
        try
        {
            var options = TinyClassifiers.Options(2) with { CheckpointFolder = folder };
            using var classifier = TinyClassifiers.New(5);
            using (var cancellation = new CancellationTokenSource())
            {
                Assert.ThrowsExactly<OperationCanceledException>(() => TextClassifierTrainer.Train(
                    classifier, data.Texts, data.Labels, options with { Progress = new TinyClassifiers.Callback(_ => cancellation.Cancel()) },
                    cancellation: cancellation.Token));
            }

            body(folder, options, classifier);
        }
        finally
        {
            if (Directory.Exists(folder))
                Directory.Delete(folder, recursive: true);
        }
    }

    [TestMethod]
    [TestCategory("Reliability")]
    [DataRow(3, "has 3 bytes, not the 5056 of a random state")]
    [DataRow(0, "has 0 bytes, not the 5056 of a random state")]
    [DataRow(5056, "does not match the checksum its checkpoint recorded")]
    public void A_damaged_random_state_is_refused_with_a_managed_error_not_a_native_abort(int length, string problem) =>
        WithCheckpoint((folder, options, classifier) =>
        {
            // libtorch rejects a bad generator state with a native exception TorchSharp does not catch: the process would end.
            string rng = Path.Combine(folder, "rng.bin");
            var bytes = new byte[length];
            new Random(7).NextBytes(bytes);
            File.WriteAllBytes(rng, bytes);
            var error = Assert.ThrowsExactly<InvalidDataException>(() => TextClassifierTrainer.Train(classifier, data.Texts, data.Labels, options));
            StringAssert.Contains(error.Message, $"Random state '{rng}' {problem}");
            if (length != 5056)
                return;

            // A checkpoint written before checksums were kept: the generator's own fields are checked instead.
            string progressPath = Path.Combine(folder, "progress.json");
            var progress = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(progressPath))!;
            progress.AsObject().Remove("RandomStateSha256");
            File.WriteAllText(progressPath, progress.ToJsonString());
            BitConverter.TryWriteBytes(bytes.AsSpan(8), 100_000);   // "left" beyond the 624 state words
            File.WriteAllBytes(rng, bytes);
            error = Assert.ThrowsExactly<InvalidDataException>(() => TextClassifierTrainer.Train(classifier, data.Texts, data.Labels, options));
            StringAssert.Contains(error.Message, $"Random state '{rng}' is not a valid generator state");
        });

    [TestMethod]
    [TestCategory("Reliability")]
    [DataRow("ElapsedSeconds", "\"NaN\"", "ElapsedSeconds = NaN is not a duration")]
    [DataRow("ElapsedSeconds", "1e300", "ElapsedSeconds = 1E+300 is not a duration")]
    [DataRow("NextMicroBatch", "-5", "NextMicroBatch = -5 is not a micro-batch of this run (0 to 10)")]
    [DataRow("Epoch", "1000", "Epoch = 1000 is not an epoch of this run (1 to 2)")]
    [DataRow("ExamplesSeen", "-1", "ExamplesSeen = -1 is negative")]
    public void A_progress_record_with_values_no_run_writes_is_refused_naming_the_file_and_the_field(string field, string value, string problem) =>
        WithCheckpoint((folder, options, classifier) =>
        {
            string path = Path.Combine(folder, "progress.json");
            var progress = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(path))!;
            progress[field] = System.Text.Json.Nodes.JsonNode.Parse(value);
            File.WriteAllText(path, progress.ToJsonString());
            var error = Assert.ThrowsExactly<InvalidDataException>(() => TextClassifierTrainer.Train(classifier, data.Texts, data.Labels, options));
            StringAssert.Contains(error.Message, $"Checkpoint '{path}' is damaged: {problem}");
        });

    [TestMethod]
    [TestCategory("Reliability")]
    public void Resuming_with_other_training_settings_is_refused_naming_each_change() => WithCheckpoint((_, options, classifier) =>
    {
        var changed = options with
        {
            BatchSize = options.BatchSize * 2,
            Optimization = options.Optimization with { Precision = Network.Training.TrainingPrecision.BFloat16 },
        };
        var error = Assert.ThrowsExactly<InvalidDataException>(() => TextClassifierTrainer.Train(classifier, data.Texts, data.Labels, changed));
        StringAssert.Contains(error.Message,
            $"other training settings (BatchSize: {options.BatchSize} then, {options.BatchSize * 2} now; Precision: Float32 then, BFloat16 now)");

        // A longer time budget is not a different run: the checkpoint resumes.
        var result = TextClassifierTrainer.Train(classifier, data.Texts, data.Labels, options with { TimeBudget = TimeSpan.FromHours(1) });
        Assert.IsTrue(result.Resumed);
    });

    [TestMethod]
    [TestCategory("Reliability")]
    public void A_checkpoint_folder_that_cannot_be_made_fails_before_training_naming_it()
    {
        using var threads = IntraOpThreads.UseOne();
        // A folder inside a file cannot be created on any platform.
        string file = Path.Combine(Path.GetTempPath(), $"checkpoint-file-{Guid.NewGuid():N}");
        File.WriteAllText(file, "not a folder");
        try
        {
            string folder = Path.Combine(file, "run");
            var updates = new List<long>();
            var options = TinyClassifiers.Options(2) with
            {
                CheckpointFolder = folder, Progress = new TinyClassifiers.Callback(p => updates.Add(p.Step)),
            };
            using var classifier = TinyClassifiers.New(5);
            var error = Assert.ThrowsExactly<IOException>(() => TextClassifierTrainer.Train(classifier, data.Texts, data.Labels, options));
            StringAssert.Contains(error.Message, $"CheckpointFolder '{folder}' cannot be created");
            Assert.IsEmpty(updates, "no update was spent before the folder was checked");
        }
        finally
        {
            File.Delete(file);
        }
    }
}
