using Transformer.MLNet.Network.Bert;
using Transformer.MLNet.Network.Classification;
using Transformer.MLNet.Network.Generation;
using Transformer.MLNet.Network.Models;
using Transformer.MLNet.Network.Tests.Generation;
using Transformer.MLNet.Network.Tokenization;
using Transformer.MLNet.Network.TokenClassification;
using Transformer.MLNet.Network.Training;
using static TorchSharp.torch;

namespace Transformer.MLNet.Network.Tests.Reliability;

/// <summary>
/// The tasks' parts (<see cref="MicroBatch.Part"/>) add up to their micro-batches: trained without dropout, a tiny BERT
/// text classifier and token classifier reach the same weights, to float32 rounding, whether each micro-batch is
/// computed whole or as two halves on two threads. The halves are padded to their own longest text, so this also
/// checks that padding changes nothing. AdamW's epsilon is raised to 1e-3 here: with the default 1e-9 an element whose
/// gradient is a rounding error moves by ± the learning rate, which hides the comparison.
/// </summary>
[TestClass]
[TestCategory("Training")]
public sealed class SplitTaskTests
{
    [TestCleanup]
    public void ResetChoice()
    {
        SplitMicroBatch.Override = null;
        Network.Kernels.Projection.Override = null;
    }

    private static float[] Weights(nn.Module model) =>
        [.. model.parameters().SelectMany(p => p.detach().contiguous().data<float>().ToArray())];

    private static void AssertSame(float[] whole, float[] halves, float[] initial)
    {
        double largest = whole.Zip(halves).Max(p => Math.Abs(p.First - p.Second));
        Assert.IsLessThanOrEqualTo(1e-5, largest, "halves and whole batches train to the same weights");
        Assert.IsGreaterThan(1e-3, whole.Zip(initial).Max(p => Math.Abs(p.First - p.Second)), "training moved the weights");
    }

    /// <summary>Also through our own product's autograd function (<see cref="Network.Kernels.Projection"/>), as on CPUs that choose it,
    /// where both halves run that function's forward and backward at once.</summary>
    [TestMethod]
    [DataRow(false)]
    [DataRow(true)]
    public void Text_classifier_batches_and_their_halves_train_to_the_same_weights(bool ownProduct)
    {
        Network.Kernels.Projection.Override = ownProduct ? true : null;
        var (texts, labels) = TinyClassifiers.Sentences("yelp", 75);
        float[] Run(bool split, out float[] initial)
        {
            SplitMicroBatch.Override = split;
            Seeding.Apply(4);
            using var classifier = TextClassifier.Create(new BertModel(TinyClassifiers.Config with { Dropout = 0 }), TinyClassifiers.Tokenizer,
                new TextClassifierSettings(2, 32, 0.0));
            initial = Weights(classifier.Model);
            long before = SplitMicroBatch.SplitCount;
            var options = TinyClassifiers.Options(epochs: 2);
            TextClassifierTrainer.Train(classifier, texts, labels, options with { Optimization = options.Optimization with { Epsilon = 1e-3 } });
            Assert.AreEqual(split ? 10 : 0, SplitMicroBatch.SplitCount - before, "5 batches (4 of 16, halves of 8; one of 11, halves of 5 and 6) in each of 2 epochs");
            return Weights(classifier.Model);
        }

        var whole = Run(split: false, out var initial);
        AssertSame(whole, Run(split: true, out _), initial);
    }

    [TestMethod]
    public void Token_classifier_batches_and_their_halves_train_to_the_same_weights()
    {
        // Sentences of different lengths, so that the halves hold different numbers of words.
        string[][] sentences =
        [
            ["Ada", "Lovelace", "wrote", "the", "first", "program"], ["Paris", "is", "in", "France"], ["Hello"],
            ["Alan", "Turing", "was", "born", "in", "London", "in", "1912"], ["Rome"], ["Marie", "Curie", "won", "twice"],
            ["The", "Thames", "flows", "through", "Oxford", "and", "London"], ["Grace", "Hopper"],
        ];
        string[] people = ["Ada", "Lovelace", "Alan", "Turing", "Marie", "Curie", "Grace", "Hopper"];
        int[][] labels = [.. sentences.Select(s => s.Select((w, i) => people.Contains(w) ? (i > 0 && people.Contains(s[i - 1]) ? 2 : 1) : 0).ToArray())];
        float[] Run(bool split, out float[] initial)
        {
            SplitMicroBatch.Override = split;
            Seeding.Apply(6);
            using var classifier = TokenClassifier.Create(new BertModel(TinyClassifiers.Config with { Dropout = 0 }), TinyClassifiers.Tokenizer,
                new TokenClassifierSettings(["O", "B-PER", "I-PER"], 32, 0.0));
            initial = Weights(classifier.Model);
            long before = SplitMicroBatch.SplitCount;
            TokenClassifierTrainer.Train(classifier, sentences, labels, new TokenClassifierTrainingOptions
            {
                Epochs = 3, BatchSize = 8, Seed = 1, ReportEvery = 1,
                Optimization = new TokenClassifierTrainingOptions().Optimization with { LearningRate = 2e-3, WarmupSteps = 0, Epsilon = 1e-3 },
            });
            Assert.AreEqual(split ? 3 : 0, SplitMicroBatch.SplitCount - before);
            return Weights(classifier.Model);
        }

        var whole = Run(split: false, out var initial);
        AssertSame(whole, Run(split: true, out _), initial);
    }

    private static GenerativeTrainingOptions Generative(int batch) => new()
    {
        Optimization = new TrainingOptions { LearningRate = 5e-3, WarmupSteps = 0, LabelSmoothing = 0.1, Epsilon = 1e-3 },
        Epochs = 2, BatchSize = batch, Seed = 5, ReportEvery = 1,
    };

    [TestMethod]
    public void Translation_batches_and_their_halves_train_to_the_same_weights()
    {
        // Sources and targets of 3 to 8 tokens, so that the halves hold different numbers of target tokens.
        var train = SequenceTaskFixture.Pairs(75, 1, SequenceTaskFixture.Reverse);
        float[] Run(bool split, out float[] initial)
        {
            SplitMicroBatch.Override = split;
            Seeding.Apply(3);
            using var model = new EncoderDecoderModel(SequenceTaskFixture.Config with { Dropout = 0 });
            initial = Weights(model);
            long before = SplitMicroBatch.SplitCount;
            TranslationTrainer.Train(model, train, null, Generative(batch: 16));
            Assert.AreEqual(split ? 10 : 0, SplitMicroBatch.SplitCount - before);
            return Weights(model);
        }

        var whole = Run(split: false, out var initial);
        AssertSame(whole, Run(split: true, out _), initial);
    }

    [TestMethod]
    public void Language_model_batches_and_their_halves_train_to_the_same_weights()
    {
        var config = SequenceTaskFixture.Config with { MaxPositions = 16, Dropout = 0 };
        var random = new Random(3);
        int[] stream = [.. Enumerable.Range(0, 600).Select(i => GenerationTokenizer.SpecialTokenCount + ((i + random.Next(2)) % SequenceTaskFixture.Symbols))];
        float[] Run(bool split, out float[] initial)
        {
            SplitMicroBatch.Override = split;
            Seeding.Apply(3);
            using var model = new DecoderOnlyModel(config);
            initial = Weights(model);
            LanguageModelTrainer.Train(model, stream, null, Generative(batch: 9) with { BlockSize = 12, MaxSteps = 8 });
            return Weights(model);
        }

        var whole = Run(split: false, out var initial);
        AssertSame(whole, Run(split: true, out _), initial);
    }
}
