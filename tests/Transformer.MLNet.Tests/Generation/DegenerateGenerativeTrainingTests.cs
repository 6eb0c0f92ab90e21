using Microsoft.ML;
using Transformer.MLNet.Network.Configuration;
using Transformer.MLNet.Network.Generation;
using Transformer.MLNet.TextGeneration;
using Transformer.MLNet.Translation;

namespace Transformer.MLNet.Tests.Generation;

[TestClass]
public sealed class DegenerateGenerativeTrainingTests
{
    private sealed record PairRow(string Source, string Target);

    private sealed record TextRow(string Text, string Prompt);

    private static readonly TransformerConfig Small = TransformerConfig.Tiny with { MaxPositions = 32 };

    private static readonly string[] Words = ["cat", "dog", "house", "tree", "water", "river", "stone", "bread"];

    private static TranslationEstimator Translator(MLContext mlContext, int minTokenCount = 1) =>
        mlContext.Transforms.Text.TrainTranslator(new TranslationOptions
        {
            Architecture = Small, Epochs = 1, BatchSize = 8, ValidationFraction = 0, MinTokenCount = minTokenCount,
            Decoding = new GenerationOptions { MaxNewTokens = 4 },
        });

    [TestMethod]
    public void A_language_model_batch_larger_than_the_data_holds_the_data()
    {
        var mlContext = new MLContext(seed: 1);
        var data = mlContext.Data.LoadFromEnumerable(Words.Select(w => new TextRow($"the {w} is here", "the")).ToList());
        using var model = mlContext.Transforms.Text.TrainTextGenerator(new TextGenerationOptions
        {
            Architecture = Small, Tokenization = TextGenerationTokenization.Characters, Epochs = 2, BlockSize = 8, BatchSize = int.MaxValue,
            ValidationFraction = 0, WarmupSteps = 1, Decoding = new GenerationOptions { MaxNewTokens = 4 },
        }).Fit(data);
        Assert.HasCount(2, model.Complete(["the", "a"]));
    }

    [TestMethod]
    public void Empty_targets_name_the_target_column_and_empty_sources_the_source_column()
    {
        var mlContext = new MLContext(seed: 1);
        var noTargets = mlContext.Data.LoadFromEnumerable(Words.Select(w => new PairRow(w, "")).ToList());
        var error = Assert.ThrowsExactly<ArgumentException>(() => Translator(mlContext).Fit(noTargets));
        Assert.Contains("'Target' (TargetColumnName)", error.Message);
        Assert.Contains("all empty", error.Message);
        Assert.AreEqual("TargetColumnName", error.ParamName);

        var noSources = mlContext.Data.LoadFromEnumerable(Words.Select(w => new PairRow("", w)).ToList());
        error = Assert.ThrowsExactly<ArgumentException>(() => Translator(mlContext).Fit(noSources));
        Assert.Contains("'Source' (SourceColumnName)", error.Message);
        Assert.AreEqual("SourceColumnName", error.ParamName);
    }

    [TestMethod]
    public void A_min_token_count_that_keeps_no_token_of_a_side_names_the_option_and_the_highest_count()
    {
        var mlContext = new MLContext(seed: 1);
        var data = mlContext.Data.LoadFromEnumerable(Words.Select(w => new PairRow(w, "yes")).ToList());
        var error = Assert.ThrowsExactly<ArgumentException>(() => Translator(mlContext, minTokenCount: 1_000_000).Fit(data));
        Assert.AreEqual("MinTokenCount", error.ParamName);
        Assert.Contains("MinTokenCount = 1000000", error.Message);
        Assert.Contains("distinct tokens", error.Message);

        // "yes" occurs in every row; every source word once: a count of 2 keeps the targets' token but no source token.
        error = Assert.ThrowsExactly<ArgumentException>(() => Translator(mlContext, minTokenCount: 2).Fit(data));
        Assert.AreEqual("MinTokenCount", error.ParamName);
        Assert.Contains("no source token", error.Message);
        Assert.Contains("at most 1", error.Message);
    }
}
