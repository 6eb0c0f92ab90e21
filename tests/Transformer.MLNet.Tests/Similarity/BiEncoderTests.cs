using Microsoft.ML;
using Microsoft.ML.Data;
using Transformer.MLNet.Embeddings;
using Transformer.MLNet.Network.Embeddings;
using Transformer.MLNet.Persistence;
using Transformer.MLNet.Similarity;

namespace Transformer.MLNet.Tests.Similarity;

[TestClass]
public sealed class BiEncoderTests
{
    public TestContext TestContext { get; set; } = null!;

    [TestMethod]
    public void Fine_tuned_bi_encoder_fits_its_pairs_better_than_the_pretrained_one_and_exports_loads_and_round_trips()
    {
        // A few updates cannot show the held-out gain of a full run (examples/Similarity measures that on STS-B test);
        // what they must show is that CoSENT moves the cosines towards the gold order of the pairs trained on.
        var mlContext = new MLContext(seed: 0);
        var train = mlContext.Data.LoadFromEnumerable(PairRow.Read("train", 0, TrainPairs));
        var embedSecond = mlContext.Transforms.Text.ApplySentenceEmbedding("E2", nameof(PairRow.Sentence2), maxTokens: MaxTokens);
        double Spearman(ITransformer first, ITransformer second) =>
            mlContext.Regression.EvaluateSimilarity(second.Transform(first.Transform(train)), nameof(PairRow.Label), "E1", "E2").Spearman;

        using var pretrainedFirst = mlContext.Transforms.Text.ApplySentenceEmbedding("E1", nameof(PairRow.Sentence1), maxTokens: MaxTokens).Fit(train);
        using var pretrainedSecond = embedSecond.Fit(train);
        double before = Spearman(pretrainedFirst, pretrainedSecond);

        using var fineTuned = mlContext.Transforms.Text.FineTuneSentenceEmbedding(new SentenceEmbeddingTrainingOptions
        {
            FirstSentenceColumnName = nameof(PairRow.Sentence1),
            SecondSentenceColumnName = nameof(PairRow.Sentence2),
            LabelColumnName = nameof(PairRow.Label),
            Loss = SimilarityLoss.CoSent,
            Epochs = 2,
            BatchSize = 16,
            LearningRate = LearningRate,
            MaxTokens = MaxTokens,
            FreezeTokenEmbeddings = true,
            OutputColumnName = "E1",
            Seed = 0,
        }).Fit(train);

        // Exported as a Hugging Face folder and loaded back as the encoder of an embedding featurizer.
        string folder = Path.Combine(Path.GetTempPath(), $"bi-encoder-test-{Guid.NewGuid():N}");
        try
        {
            fineTuned.SaveEncoder(folder);
            Assert.IsTrue(File.Exists(Path.Combine(folder, "model.safetensors")));
            using var loadedSecond = mlContext.Transforms.Text.ApplySentenceEmbedding(new SentenceEmbeddingOptions
            {
                OutputColumnName = "E2", InputColumnName = nameof(PairRow.Sentence2), EncoderFolder = folder, MaxTokens = MaxTokens,
            }).Fit(train);
            double after = Spearman(fineTuned, loadedSecond);
            TestContext.WriteLine($"STS-B Spearman on the {TrainPairs} training pairs: pretrained {before:F4}, fine-tuned {after:F4}");
            Assert.IsGreaterThan(before + MinimumGain, after);

            // The reloaded encoder embeds exactly as the fitted featurizer.
            using var loadedFirst = mlContext.Transforms.Text.ApplySentenceEmbedding(new SentenceEmbeddingOptions
            {
                OutputColumnName = "E1", InputColumnName = nameof(PairRow.Sentence1), EncoderFolder = folder, MaxTokens = MaxTokens,
            }).Fit(train);
            var some = mlContext.Data.TakeRows(train, 20);
            var expected = fineTuned.Transform(some).GetColumn<VBuffer<float>>("E1").Select(v => v.DenseValues().ToArray()).ToList();
            var reloaded = loadedFirst.Transform(some).GetColumn<VBuffer<float>>("E1").Select(v => v.DenseValues().ToArray()).ToList();
            for (int i = 0; i < expected.Count; i++)
                CollectionAssert.AreEqual(expected[i], reloaded[i]);

            // And the fitted transformer saves in a pipeline archive with its fine-tuned weights.
            using var stream = new MemoryStream();
            mlContext.Model.SavePipeline(fineTuned, train.Schema, stream);
            stream.Position = 0;
            var restored = new MLContext(seed: 3).Model.LoadPipeline(stream, out _);
            var restoredRows = restored.Transform(some).GetColumn<VBuffer<float>>("E1").Select(v => v.DenseValues().ToArray()).ToList();
            for (int i = 0; i < expected.Count; i++)
                CollectionAssert.AreEqual(expected[i], restoredRows[i]);
        }
        finally
        {
            if (Directory.Exists(folder))
                Directory.Delete(folder, recursive: true);
        }
    }

    private const int TrainPairs = 160;
    private const int MaxTokens = 32;
    private const double LearningRate = 1e-4;
    private const double MinimumGain = 0.01;
}
