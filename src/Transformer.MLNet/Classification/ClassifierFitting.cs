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
        bool regression = train.Targets is not null;
        if (train.Texts.Length == 0)
            throw new ArgumentException($"The training data has no labelled rows in column '{options.LabelColumnName}'.", nameof(train));
        bool OneClass(LabeledTexts texts) => !regression && texts.Labels.Distinct().Count() < 2;
        if (OneClass(train))
        {
            throw new ArgumentException(
                $"Every one of the {train.Texts.Length} labelled training rows has the same class in column '{options.LabelColumnName}' " +
                $"(class {train.Labels[0]}); a classifier needs examples of at least two classes.", nameof(train));
        }

        int seed = options.Seed ?? environment.Register(component).Rand.Next();
        if (validation is null && options.ValidationFraction > 0)
        {
            var (kept, held) = Holdout.Split([.. Enumerable.Range(0, train.Texts.Length)], options.ValidationFraction, seed);
            if (held is not null)
            {
                validation = train.Select(held);
                train = train.Select(kept) with { SkippedRows = train.SkippedRows };
                if (OneClass(train))
                {
                    throw new ArgumentException(
                        $"After holding out ValidationFraction = {options.ValidationFraction} of the rows for validation, the " +
                        $"{train.Texts.Length} training rows left in column '{options.LabelColumnName}' all have class {train.Labels[0]}; " +
                        "a classifier needs examples of at least two classes. Lower ValidationFraction, add rows, or pass a ValidationSet.",
                        nameof(options));
                }
            }
        }

        var settings = new TextClassifierSettings(classCount, options.MaxTokens, options.Dropout)
        {
            Regression = regression, Pairs = options.SecondTextColumnName is not null,
        };
        using var log = new TrainingLog(environment, component, options.Progress);
        log.CheckPrecision(options.Precision, environment.GetTorchDevice());
        string source = options.ScratchConfig is { } scratch ? $"scratch ({scratch.Name}: {scratch.EncoderLayers} layers, width {scratch.ModelDim})"
            : options.EncoderFolder is null ? "pretrained MiniLM-L6" : $"encoder folder '{options.EncoderFolder}'";
        string what = (regression ? "a regression head" : $"a {classCount}-class text classifier") + (settings.Pairs ? " on text pairs" : "");
        log.Info($"Training {what} on {train.Texts.Length} rows from {source}; seed {seed}.");
        var (classifier, result) = TextClassifierTrainer.Fit(
            options.EncoderFolder, options.ScratchConfig, settings, train.ToExamples(), options.ToTrainingOptions(seed, log),
            validation?.ToExamples(), environment.GetTorchDevice(), options.Cancellation);
        log.CheckSkipped(result);
        if (train.SkippedRows > 0)
            log.Info($"Skipped {train.SkippedRows} rows with a missing label in column '{options.LabelColumnName}'.");
        log.Info($"Finished after {result.Epochs} epochs; kept epoch {result.BestEpoch}; {result.TruncatedExamples} training inputs " +
            $"were cut to MaxTokens = {options.MaxTokens}.");
        return classifier;
    }
}
