using Microsoft.ML;
using Transformer.MLNet.Classification;
using Transformer.MLNet.Embeddings;
using Transformer.MLNet.Network.Embeddings;
using Transformer.MLNet.Network.Generation;
using Transformer.MLNet.Network.Training;
using Transformer.MLNet.TextGeneration;
using Transformer.MLNet.TokenClassification;
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
        string aFile = typeof(OptionsVocabularyTests).Assembly.Location;
        var shared = new (Action<TrainableEstimatorOptions> Set, string Fragment)[]
        {
            (o => o.CheckpointFolder = aFile, "is a file, not a folder"),
            (o => o.Patience = -1, "Patience"),
            (o => o.ValidationFraction = 1, "ValidationFraction"),
            (o => o.TimeBudget = TimeSpan.Zero, "TimeBudget"),
            (o => o.CheckpointFolder = " ", "CheckpointFolder = ' '"),
            (o => o.Precision = (TrainingPrecision)99, "Precision"),
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

    [TestMethod]
    [TestCategory("Reliability")]
    public void Out_of_range_values_undefined_choices_and_colliding_columns_are_rejected_naming_the_option()
    {
        var mlContext = new MLContext(seed: 1);
        var classifiers = new (Action<TextClassifierOptions> Set, string Fragment)[]
        {
            (o => o.ScoreColumnName = null!, "ScoreColumnName"),
            (o => o.PredictedLabelColumnName = "", "PredictedLabelColumnName"),
            (o => o.PredictedLabelColumnName = o.ScoreColumnName, "PredictedLabelColumnName"),
            (o => o.InferenceBatchSize = int.MaxValue, "InferenceBatchSize"),
            (o => o.WeightDecay = double.PositiveInfinity, "WeightDecay"),
            (o => o.EncoderFolder = "  ", "EncoderFolder"),
        };
        foreach (var (set, fragment) in classifiers)
        {
            var options = new TextClassifierOptions();
            set(options);
            Expect(() => mlContext.BinaryClassification.Trainers.TextClassifier(options), fragment);
            Expect(() => mlContext.MulticlassClassification.Trainers.TextClassifier(options), fragment);
        }

        // Regression writes no predicted label, so only the score column must be named.
        Expect(() => mlContext.Regression.Trainers.TextRegression(new TextClassifierOptions { ScoreColumnName = "" }), "ScoreColumnName");
        _ = mlContext.Regression.Trainers.TextRegression(new TextClassifierOptions { PredictedLabelColumnName = Schema.ScoreColumnNames.Score });

        string missing = Path.Combine(Path.GetTempPath(), "no-such-encoder-" + Guid.NewGuid().ToString("N"));
        var notFound = Assert.Throws<DirectoryNotFoundException>(() => mlContext.BinaryClassification.Trainers.TextClassifier(new TextClassifierOptions { EncoderFolder = missing }));
        StringAssert.Contains(notFound.Message, "EncoderFolder");
        StringAssert.Contains(notFound.Message, missing);
        notFound = Assert.Throws<DirectoryNotFoundException>(() => mlContext.Transforms.Text.ApplySentenceEmbedding(new SentenceEmbeddingOptions { EncoderFolder = missing }));
        StringAssert.Contains(notFound.Message, "EncoderFolder");

        Expect(() => mlContext.Transforms.Text.ApplySentenceEmbedding(new SentenceEmbeddingOptions { Pooling = (Pooling)99 }), "Pooling");
        Expect(() => mlContext.Transforms.Text.ApplySentenceEmbedding(new SentenceEmbeddingOptions { InferenceBatchSize = int.MaxValue }), "InferenceBatchSize");
        Expect(() => mlContext.Transforms.Text.FineTuneSentenceEmbedding(new SentenceEmbeddingTrainingOptions
        {
            FirstSentenceColumnName = "A", SecondSentenceColumnName = "B", LabelColumnName = "Label", WeightDecay = double.PositiveInfinity,
        }), "WeightDecay");

        Expect(() => mlContext.MulticlassClassification.Trainers.TokenClassifier(new TokenClassifierOptions { PredictedLabelColumnName = "EntityType" }), "PredictedLabelColumnName");

        var translation = new TranslationOptions
        {
            SourceColumnName = "Source", TargetColumnName = "Target", OutputColumnName = "Translation",
            Decoding = new GenerationOptions { Strategy = DecodingStrategy.BeamSearch, BeamWidth = int.MaxValue },
        };
        Expect(() => mlContext.Transforms.Text.TrainTranslator(translation), "BeamWidth");
        translation.Decoding = new GenerationOptions { BatchSize = int.MaxValue };
        Expect(() => mlContext.Transforms.Text.TrainTranslator(translation), "BatchSize");
    }
}
