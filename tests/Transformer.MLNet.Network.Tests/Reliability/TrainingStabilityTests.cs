using TorchSharp;
using Transformer.MLNet.Network.Classification;
using Transformer.MLNet.Network.Embeddings;
using Transformer.MLNet.Network.TokenClassification;
using Transformer.MLNet.Network.Training;
using static TorchSharp.torch;

namespace Transformer.MLNet.Network.Tests.Reliability;

/// <summary>Non-finite losses and gradients, and options out of range, stop training with errors that say where and why.</summary>
[TestClass]
public sealed class TrainingStabilityTests
{
    private static (string[] Texts, int[] Labels) data;

    [ClassInitialize]
    public static void Initialize(TestContext context) => data = TinyClassifiers.Sentences("yelp", 96);

    // One word's embedding row made NaN poisons exactly the batches that contain the word.
    private static TextClassifier Poisoned(int seed, string word, out int[] poisonedRows)
    {
        var classifier = TinyClassifiers.New(seed);
        int id = classifier.Tokenizer.EncodeToIds(word, 8, out _)[1];
        using (no_grad())
            classifier.Model.TokenEmbeddings[id].fill_(float.NaN);
        poisonedRows = data.Texts.Select((t, i) => (t, i)).Where(p => classifier.Tokenizer.EncodeToIds(p.t, 32, out _).Contains(id)).Select(p => p.i).ToArray();
        return classifier;
    }

    [TestMethod]
    [TestCategory("Reliability")]
    public void Non_finite_loss_stops_training_naming_epoch_micro_batch_and_update()
    {
        using var threads = IntraOpThreads.UseOne();
        using var classifier = Poisoned(1, "burger", out var rows);
        Assert.IsNotEmpty(rows);
        var error = Assert.ThrowsExactly<ArithmeticException>(() =>
            TextClassifierTrainer.Train(classifier, data.Texts, data.Labels, TinyClassifiers.Options(1)));
        StringAssert.Matches(error.Message, new System.Text.RegularExpressions.Regex(@"epoch 1, micro-batch \d+ of 6: The training loss is NaN at update \d+"));
        StringAssert.Contains(error.Message, "SkipNonFiniteBatches");
    }

    [TestMethod]
    [TestCategory("Reliability")]
    public void Skipping_non_finite_batches_counts_them_and_keeps_the_rest_finite()
    {
        using var threads = IntraOpThreads.UseOne();
        using var classifier = Poisoned(1, "burger", out var rows);
        var options = TinyClassifiers.Options(2) with
        {
            Optimization = TinyClassifiers.Options(2).Optimization with { SkipNonFiniteBatches = true },
            FreezeTokenEmbeddings = true,
        };
        var result = TextClassifierTrainer.Train(classifier, data.Texts, data.Labels, options);
        Assert.IsGreaterThan(0L, result.SkippedBatches);
        Assert.IsLessThanOrEqualTo(2L * rows.Length, result.SkippedBatches, "only batches holding the poisoned word are dropped");
        Assert.IsTrue(result.TrainingLosses.All(double.IsFinite));
        var clean = data.Texts.Where((_, i) => !rows.Contains(i)).ToArray();
        Assert.IsTrue(classifier.PredictLogits(clean).SelectMany(r => r).All(float.IsFinite), "no NaN reached the other weights");
    }

    [TestMethod]
    [TestCategory("Reliability")]
    public void Non_finite_gradient_with_a_finite_loss_is_detected_or_skipped()
    {
        using var scope = NewDisposeScope();
        foreach (bool clip in new[] { true, false })
        {
            var model = nn.Linear(4, 1);
            using (no_grad())
                model.weight.zero_();
            var options = new TrainingOptions { MaxGradientNorm = clip ? 1.0 : 0.0 };

            // d/dw sqrt(w) at w = 0 is +inf while the loss is 0.
            using var updater = new ParameterUpdater(model, options);
            var error = Assert.ThrowsExactly<ArithmeticException>(() => updater.Backward(model.weight.sqrt().sum()));
            StringAssert.Contains(error.Message, "gradient norm is");
            StringAssert.Contains(error.Message, "at update 1");

            using var skipping = new ParameterUpdater(model, options with { SkipNonFiniteBatches = true });
            model.zero_grad();
            Assert.IsFalse(skipping.Backward(model.weight.sqrt().sum()));
            Assert.AreEqual(1L, skipping.SkippedBatches);
            Assert.AreEqual(0L, skipping.CompletedSteps);
            Assert.IsTrue(model.weight.isfinite().all().ToBoolean(), "a skipped update leaves the weights alone");
            Assert.IsTrue(skipping.Backward((model.weight + 1).sum()), "the next finite batch updates");
        }
    }

    [TestMethod]
    [TestCategory("Reliability")]
    public void Options_and_inputs_out_of_range_are_named()
    {
        using var classifier = TinyClassifiers.New(1);
        var texts = data.Texts[..20];
        var labels = data.Labels[..20];
        void Expect<T>(Action action, string fragment) where T : Exception
        {
            var error = Assert.Throws<T>(action);
            StringAssert.Contains(error.Message, fragment);
        }

        var baseOptions = TinyClassifiers.Options(1);
        Expect<ArgumentException>(() => TextClassifierTrainer.Train(classifier, texts, labels, baseOptions with { Epochs = 0 }), "Epochs = 0");
        Expect<ArgumentException>(() => TextClassifierTrainer.Train(classifier, texts, labels, baseOptions with { BatchSize = -3 }), "BatchSize = -3");
        Expect<ArgumentException>(() => TextClassifierTrainer.Train(classifier, texts, labels, baseOptions with { WarmupFraction = 1.5 }), "WarmupFraction = 1.5");
        Expect<ArgumentException>(() => TextClassifierTrainer.Train(classifier, texts, labels,
            baseOptions with { Optimization = baseOptions.Optimization with { LearningRate = double.NaN } }), "LearningRate = NaN");
        Expect<ArgumentException>(() => TextClassifierTrainer.Train(classifier, texts, labels,
            baseOptions with { Optimization = baseOptions.Optimization with { Beta2 = 1 } }), "Beta2 = 1");
        Expect<ArgumentException>(() => TextClassifierTrainer.Train(classifier, [], [], baseOptions), "training set is empty");
        Expect<ArgumentException>(() => TextClassifierTrainer.Train(classifier, texts, labels[..5], baseOptions), "20 texts but 5 labels");
        Expect<ArgumentOutOfRangeException>(() => TextClassifierTrainer.Train(classifier, texts, [.. labels[..19], -1], baseOptions), "Label -1 of row 19");
        Expect<ArgumentOutOfRangeException>(() => new TextClassifierSettings(1, 32, 0.1).Validate(), "at least 2 classes");
        Expect<ArgumentOutOfRangeException>(() => new TextClassifierSettings(2, 1, 0.1).Validate(), "MaxTokens");
        Expect<ArgumentOutOfRangeException>(() => new TextClassifierSettings(2, 32, 1.0).Validate(), "Dropout");
        Expect<ArgumentOutOfRangeException>(() => new TextClassifierSettings(2, 32, double.NaN).Validate(), "Dropout");
        Expect<ArgumentOutOfRangeException>(() => new TokenClassifierSettings(["O", "B-PER", "I-PER"], 64, double.NaN).Validate(), "Dropout");
        Expect<ArgumentOutOfRangeException>(() => TextClassifier.Create(new Network.Bert.BertModel(TinyClassifiers.Config), classifier.Tokenizer,
            new TextClassifierSettings(2, 65, 0.1)), "MaxPositions (64)");
        Expect<ArgumentOutOfRangeException>(() => classifier.PredictLogits(texts, batchSize: 0), "batchSize");
        Expect<ArgumentException>(() => TextClassifierTrainer.Train(classifier, texts, labels,
            baseOptions with { Optimization = baseOptions.Optimization with { WeightDecay = double.PositiveInfinity } }), "WeightDecay =");
        Expect<ArgumentException>(() => TextClassifierTrainer.Train(classifier, texts, labels,
            baseOptions with { Optimization = baseOptions.Optimization with { Epsilon = double.PositiveInfinity } }), "Epsilon =");
        Expect<ArgumentException>(() => TextClassifierTrainer.Train(classifier, texts, labels,
            baseOptions with { Optimization = baseOptions.Optimization with { Precision = (TrainingPrecision)99 } }), "Precision = 99");
        Expect<ArgumentException>(() => new Network.Generation.GenerationOptions { BeamWidth = int.MaxValue }.Validate(), "BeamWidth");
        Expect<ArgumentException>(() => new Network.Generation.GenerationOptions { BatchSize = int.MaxValue }.Validate(), "BatchSize");
        Expect<ArgumentOutOfRangeException>(() => SentenceEncoder.FromPretrained(Pretrained.MiniLmFixture.Model, new SentenceEncoderOptions { Pooling = (Pooling)99 }), "Pooling");
    }
}
