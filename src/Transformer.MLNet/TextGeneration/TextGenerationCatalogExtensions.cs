using Microsoft.ML;

namespace Transformer.MLNet.TextGeneration;

/// <summary>The text-generation trainer, under <c>mlContext.Transforms.Text</c>.</summary>
public static class TextGenerationCatalogExtensions
{
    /// <summary>Trains a decoder-only Transformer language model on <paramref name="textColumnName"/> that continues <paramref name="promptColumnName"/>.</summary>
    /// <param name="catalog"><c>mlContext.Transforms.Text</c>.</param>
    /// <param name="outputColumnName">Completion column to add.</param>
    /// <param name="promptColumnName">Prompts to continue.</param>
    /// <param name="textColumnName">Training documents.</param>
    /// <param name="epochs">Passes over the training text at most.</param>
    /// <returns>The estimator.</returns>
    public static TextGenerationEstimator TrainTextGenerator(this TransformsCatalog.TextTransforms catalog,
        string outputColumnName = "Completion", string promptColumnName = "Prompt", string textColumnName = "Text", int epochs = 10) =>
        catalog.TrainTextGenerator(new TextGenerationOptions
        {
            OutputColumnName = outputColumnName, PromptColumnName = promptColumnName, TextColumnName = textColumnName, Epochs = epochs,
        });

    /// <summary>Trains a decoder-only Transformer with every option (see <see cref="TextGenerationOptions"/>).</summary>
    /// <param name="catalog"><c>mlContext.Transforms.Text</c>.</param>
    /// <param name="options">The options.</param>
    /// <returns>The estimator.</returns>
    public static TextGenerationEstimator TrainTextGenerator(this TransformsCatalog.TextTransforms catalog, TextGenerationOptions options)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentNullException.ThrowIfNull(options);
        return new TextGenerationEstimator(catalog.GetEnvironment(), options);
    }
}
