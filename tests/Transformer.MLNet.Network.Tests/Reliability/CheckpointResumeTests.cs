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
    public void A_checkpoint_of_another_run_or_a_damaged_one_is_refused()
    {
        using var threads = IntraOpThreads.UseOne();
        string folder = Path.Combine(Path.GetTempPath(), $"checkpoint-{Guid.NewGuid():N}");
        try
        {
            var options = TinyClassifiers.Options(2) with { CheckpointFolder = folder };
            using var classifier = TinyClassifiers.New(5);
            using var cancellation = new CancellationTokenSource();
            Assert.ThrowsExactly<OperationCanceledException>(() => TextClassifierTrainer.Train(
                classifier, data.Texts, data.Labels, options with { Progress = new TinyClassifiers.Callback(_ => cancellation.Cancel()) }, cancellation: cancellation.Token));

            var other = Assert.ThrowsExactly<InvalidDataException>(() =>
                TextClassifierTrainer.Train(classifier, data.Texts, data.Labels, options with { Seed = 2 }));
            StringAssert.Contains(other.Message, "seed 1 on 160 rows, not seed 2 on 160 rows");

            File.WriteAllBytes(Path.Combine(folder, "optimizer.bin"), [1, 2, 3]);
            var damaged = Assert.ThrowsExactly<InvalidDataException>(() => TextClassifierTrainer.Train(classifier, data.Texts, data.Labels, options));
            StringAssert.Contains(damaged.Message, "optimizer.bin");
        }
        finally
        {
            if (Directory.Exists(folder))
                Directory.Delete(folder, recursive: true);
        }
    }

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
