using Microsoft.ML;
using Transformer.MLNet.Classification;
using Transformer.MLNet.TextGeneration;
using Transformer.MLNet.Translation;

namespace Transformer.MLNet.Tests.Reliability;

/// <summary>The shared options mean one thing everywhere and are checked when an estimator is created, before any data is read.</summary>
[TestClass]
public sealed class OptionsVocabularyTests
{
    private static void Expect(Action create, string fragment)
    {
        var error = Assert.Throws<ArgumentException>(create);
        StringAssert.Contains(error.Message, fragment);
    }

    [TestMethod]
    [TestCategory("Reliability")]
    public void Every_trainable_estimator_rejects_a_bad_shared_option_when_created()
    {
        var mlContext = new MLContext(seed: 1);
        var shared = new (Action<TrainableEstimatorOptions> Set, string Fragment)[]
        {
            (o => o.Patience = -1, "Patience"),
            (o => o.ValidationFraction = 1, "ValidationFraction"),
            (o => o.TimeBudget = TimeSpan.Zero, "TimeBudget"),
            (o => o.CheckpointFolder = " ", "CheckpointFolder = ' '"),
        };
        foreach (var (set, fragment) in shared)
        {
            var classifier = new TextClassifierOptions();
            set(classifier);
            Expect(() => mlContext.BinaryClassification.Trainers.TextClassifier(classifier), fragment);
            Expect(() => mlContext.MulticlassClassification.Trainers.TextClassifier(classifier), fragment);

            var translation = new TranslationOptions { SourceColumnName = "Source", TargetColumnName = "Target", OutputColumnName = "Translation" };
            set(translation);
            Expect(() => mlContext.Transforms.Text.TrainTranslator(translation), fragment);

            var generation = new TextGenerationOptions { OutputColumnName = "Completion" };
            set(generation);
            Expect(() => mlContext.Transforms.Text.TrainTextGenerator(generation), fragment);
        }

        Expect(() => mlContext.BinaryClassification.Trainers.TextClassifier(new TextClassifierOptions { Epochs = 0 }), "Epochs = 0");
    }
}
