using Microsoft.ML;

namespace Transformer.MLNet.Translation;

/// <summary>The translation trainer, under <c>mlContext.Transforms.Text</c>.</summary>
public static class TranslationCatalogExtensions
{
    /// <summary>Trains an encoder-decoder Transformer that translates <paramref name="sourceColumnName"/>.</summary>
    /// <param name="catalog"><c>mlContext.Transforms.Text</c>.</param>
    /// <param name="outputColumnName">Translated-text column to add.</param>
    /// <param name="sourceColumnName">Text to translate.</param>
    /// <param name="targetColumnName">Reference translations (training only).</param>
    /// <param name="epochs">Passes over the training rows at most.</param>
    /// <returns>The estimator.</returns>
    public static TranslationEstimator TrainTranslator(this TransformsCatalog.TextTransforms catalog,
        string outputColumnName = "Translation", string sourceColumnName = "Source", string targetColumnName = "Target", int epochs = 10) =>
        catalog.TrainTranslator(new TranslationOptions
        {
            OutputColumnName = outputColumnName, SourceColumnName = sourceColumnName, TargetColumnName = targetColumnName, Epochs = epochs,
        });

    /// <summary>Trains an encoder-decoder Transformer with every option (see <see cref="TranslationOptions"/>).</summary>
    /// <param name="catalog"><c>mlContext.Transforms.Text</c>.</param>
    /// <param name="options">The options.</param>
    /// <returns>The estimator.</returns>
    public static TranslationEstimator TrainTranslator(this TransformsCatalog.TextTransforms catalog, TranslationOptions options)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentNullException.ThrowIfNull(options);
        return new TranslationEstimator(catalog.GetEnvironment(), options);
    }
}
