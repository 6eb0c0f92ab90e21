using Microsoft.ML;
using Microsoft.ML.Runtime;
using Transformer.MLNet.Encoders;
using Transformer.MLNet.Network.Classification;
using Transformer.MLNet.Network.Training;
using Transformer.MLNet.Progress;

namespace Transformer.MLNet.Classification;

/// <summary>The training step both classification trainers share: pick the encoder, add a head, train, log.</summary>
internal static class ClassifierFitting
{
    public static TextClassifier Train(
        IHostEnvironment environment, TextClassifierOptions options, string component, LabeledTexts train, LabeledTexts? validation, int classCount)
    {
        if (train.Texts.Length == 0)
            throw new ArgumentException($"The training data has no labelled rows in column '{options.LabelColumnName}'.", nameof(train));
        int seed = options.Seed ?? environment.Register(component).Rand.Next();
        var trainingOptions = options.ToTrainingOptions(seed).Validate();
        var settings = new TextClassifierSettings(classCount, options.MaxTokens, options.Dropout).Validate();
        if (options.InferenceBatchSize < 1)
            throw new ArgumentOutOfRangeException(nameof(options.InferenceBatchSize), options.InferenceBatchSize, "InferenceBatchSize must be at least 1.");

        // Seed before the head is created, so that its initial weights repeat too.
        Seeding.Apply(seed);
        var (encoder, tokenizer, description) = EncoderLoader.ForTraining(options.EncoderFolder, options.ScratchConfig);
        var classifier = TextClassifier.Create(encoder, tokenizer, settings, environment.GetTorchDevice());
        try
        {
            using var log = new TrainingLog(environment, component, options.Progress);
            log.Info($"Training a {classCount}-class text classifier on {train.Texts.Length} rows from {description}; seed {seed}.");
            var result = TextClassifierTrainer.Train(
                classifier, train.Texts, train.Labels, trainingOptions, validation?.Texts, validation?.Labels, log, options.CancellationToken);
            log.Info($"Finished after {result.EpochsRun} epochs; kept epoch {result.BestEpoch}.");
            return classifier;
        }
        catch
        {
            classifier.Dispose();
            throw;
        }
    }
}
