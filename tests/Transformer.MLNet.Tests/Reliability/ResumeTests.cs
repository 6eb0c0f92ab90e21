using Microsoft.ML;
using Microsoft.ML.Data;
using Transformer.MLNet.Classification;
using Transformer.MLNet.Network.Classification;
using Transformer.MLNet.Network.Embeddings;
using Transformer.MLNet.Network.Training;
using Transformer.MLNet.Tests.Classification;

namespace Transformer.MLNet.Tests.Reliability;

/// <summary>Determinism and resume through the ML.NET trainer.</summary>
[TestClass]
public sealed class ResumeTests
{
    [TestMethod]
    [TestCategory("Reliability")]
    public void A_Fit_cancelled_mid_epoch_and_fitted_again_from_its_checkpoint_scores_like_an_uninterrupted_Fit()
    {
        using var oneThread = IntraOpThreads.UseOne();
        var mlContext = new MLContext(seed: 3);
        var rows = UciSentences.Read("imdb").Take(192).ToList();
        var data = mlContext.Data.LoadFromEnumerable(rows);
        var probe = mlContext.Data.LoadFromEnumerable(UciSentences.Read("yelp").Take(50).ToList());

        float[] Scores(ITransformer model) => model.Transform(probe).GetColumn<float>("Score").ToArray();
        TextClassifierOptions Options(string? folder, IProgress<TrainingProgress>? progress = null, CancellationToken token = default)
        {
            var options = TinyScratch.Options(epochs: 2, seed: 11);
            options.CheckpointFolder = folder;
            options.Progress = progress;
            options.Cancellation = token;
            options.Dropout = 0.1;
            return options;
        }

        float[] uninterrupted;
        using (var model = mlContext.BinaryClassification.Trainers.TextClassifier(Options(null)).Fit(data))
            uninterrupted = Scores(model);
        using (var again = mlContext.BinaryClassification.Trainers.TextClassifier(Options(null)).Fit(data))
            CollectionAssert.AreEqual(uninterrupted, Scores(again), "same seed, same scores");

        string folder = Path.Combine(Path.GetTempPath(), $"fit-checkpoint-{Guid.NewGuid():N}");
        try
        {
            using var cancellation = new CancellationTokenSource();
            var stopInEpoch2 = new Callback(p =>
            {
                if (p.Epoch == 2 && !p.EpochCompleted)
                    cancellation.Cancel();
            });
            var cancelled = mlContext.BinaryClassification.Trainers.TextClassifier(Options(folder, stopInEpoch2, cancellation.Token));
            Assert.ThrowsExactly<OperationCanceledException>(() => cancelled.Fit(data));
            Assert.IsTrue(File.Exists(Path.Combine(folder, "progress.json")));

            using var resumed = mlContext.BinaryClassification.Trainers.TextClassifier(Options(folder)).Fit(data);
            CollectionAssert.AreEqual(uninterrupted, Scores(resumed), "resumed = uninterrupted");
        }
        finally
        {
            if (Directory.Exists(folder))
                Directory.Delete(folder, recursive: true);
        }
    }

    private sealed class Callback(Action<TrainingProgress> action) : IProgress<TrainingProgress>
    {
        public void Report(TrainingProgress value) => action(value);
    }
}
