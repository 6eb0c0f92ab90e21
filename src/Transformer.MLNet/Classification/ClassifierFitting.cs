using Microsoft.ML;
using Microsoft.ML.Runtime;
using Transformer.MLNet.Network.Classification;
using Transformer.MLNet.Progress;

namespace Transformer.MLNet.Classification;

/// <summary>The training step both classification trainers share: checks, seed, the network's entry point, log.</summary>
internal static class ClassifierFitting
{
    public static TextClassifier Train(
        IHostEnvironment environment, TextClassifierOptions options, string component, LabeledTexts train, LabeledTexts? validation, int classCount)
    {
        if (train.Texts.Length == 0)
            throw new ArgumentException($"The training data has no labelled rows in column '{options.LabelColumnName}'.", nameof(train));
        int distinct = train.Labels.Distinct().Count();
        if (distinct < 2)
        {
            throw new ArgumentException(
                $"Every one of the {train.Texts.Length} labelled training rows has the same class in column '{options.LabelColumnName}' " +
                $"(class {train.Labels[0]}); a classifier needs examples of at least two classes.", nameof(train));
        }

        int seed = options.Seed ?? environment.Register(component).Rand.Next();
        if (validation is null && options.ValidationFraction > 0)
        {
            var (kept, held) = Holdout.Split([.. train.Texts.Zip(train.Labels)], options.ValidationFraction, seed);
            if (held is not null)
            {
                validation = new LabeledTexts([.. held.Select(r => r.First)], [.. held.Select(r => r.Second)]);
                train = new LabeledTexts([.. kept.Select(r => r.First)], [.. kept.Select(r => r.Second)]) { SkippedRows = train.SkippedRows };
            }
        }

        var settings = new TextClassifierSettings(classCount, options.MaxTokens, options.Dropout);
        using var log = new TrainingLog(environment, component, options.Progress);
        string source = options.ScratchConfig is { } scratch ? $"scratch ({scratch.Name}: {scratch.EncoderLayers} layers, width {scratch.ModelDim})"
            : options.EncoderFolder is null ? "pretrained MiniLM-L6" : $"encoder folder '{options.EncoderFolder}'";
        log.Info($"Training a {classCount}-class text classifier on {train.Texts.Length} rows from {source}; seed {seed}.");
        var (classifier, result) = TextClassifierTrainer.Fit(
            options.EncoderFolder, options.ScratchConfig, settings, train.Texts, train.Labels, options.ToTrainingOptions(seed, log),
            validation?.Texts, validation?.Labels, environment.GetTorchDevice(), options.Cancellation);
        if (train.SkippedRows > 0)
            log.Info($"Skipped {train.SkippedRows} rows with a missing label in column '{options.LabelColumnName}'.");
        log.Info($"Finished after {result.Epochs} epochs; kept epoch {result.BestEpoch}; {result.TruncatedExamples} training texts " +
            $"were cut to MaxTokens = {options.MaxTokens}.");
        return classifier;
    }
}
