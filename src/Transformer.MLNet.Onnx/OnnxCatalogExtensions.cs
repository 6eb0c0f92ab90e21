using Microsoft.ML;

namespace Transformer.MLNet.Onnx;

/// <summary>Catalog methods of Transformer.MLNet.Onnx.</summary>
public static class OnnxCatalogExtensions
{
    /// <summary>
    /// Runs a model exported by Transformer.MLNet (<c>ExportOnnx(folder)</c> on a fitted embedding, classification or
    /// regression transformer) on ONNX Runtime, with the tokenizer it was trained with; it adds the columns the
    /// TorchSharp transformer adds. No TorchSharp is needed.
    /// </summary>
    /// <param name="catalog">The text transforms catalog.</param>
    /// <param name="modelFolder">The export folder.</param>
    /// <param name="inputColumnName">The text column read.</param>
    /// <param name="secondTextColumnName">The second text column of a model of text pairs; null for single texts.</param>
    /// <param name="outputColumnName">Sentence embeddings: the vector column written (classifiers and regressors write
    /// Score, Probability and PredictedLabel; see <see cref="OnnxTextOptions"/> to rename them).</param>
    public static OnnxTextEstimator ApplyOnnxExport(
        this TransformsCatalog.TextTransforms catalog, string modelFolder, string inputColumnName = "Text",
        string? secondTextColumnName = null, string outputColumnName = "Features")
    {
        ArgumentNullException.ThrowIfNull(catalog);
        return new OnnxTextEstimator(new OnnxTextOptions
        {
            ModelFolder = modelFolder,
            InputColumnName = inputColumnName,
            SecondTextColumnName = secondTextColumnName,
            OutputColumnName = outputColumnName,
        });
    }

    /// <summary>Runs a Transformer.MLNet ONNX export on ONNX Runtime, with every option.</summary>
    /// <param name="catalog">The text transforms catalog.</param>
    /// <param name="options">The options.</param>
    public static OnnxTextEstimator ApplyOnnxExport(this TransformsCatalog.TextTransforms catalog, OnnxTextOptions options)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        return new OnnxTextEstimator(options);
    }
}
