using Microsoft.ML;
using Microsoft.ML.Data;

namespace Transformer.MLNet.Persistence;

/// <summary>
/// Save and load whole pipelines that contain this library's transformers, in one call, next to ML.NET's own
/// <see cref="ModelOperationsCatalog.Save(ITransformer, DataViewSchema, string)"/>, which cannot persist them.
/// </summary>
public static class ModelCatalogExtensions
{
    /// <summary>
    /// Saves <paramref name="model"/> — any mix of ML.NET transformers and this library's — with the schema of the data
    /// it reads, into one zip file. Load it with <see cref="LoadPipeline(ModelOperationsCatalog, string, out DataViewSchema)"/>.
    /// </summary>
    /// <param name="catalog"><c>mlContext.Model</c>.</param>
    /// <param name="model">A fitted transformer or chain.</param>
    /// <param name="inputSchema">The schema of the data the model reads (<c>data.Schema</c>).</param>
    /// <param name="filePath">The zip file to write.</param>
    public static void SavePipeline(this ModelOperationsCatalog catalog, ITransformer model, DataViewSchema inputSchema, string filePath)
    {
        ArgumentException.ThrowIfNullOrEmpty(filePath);
        using var file = File.Create(filePath);
        catalog.SavePipeline(model, inputSchema, file);
    }

    /// <summary>Saves <paramref name="model"/> into <paramref name="stream"/> (see the file overload).</summary>
    /// <param name="catalog"><c>mlContext.Model</c>.</param>
    /// <param name="model">A fitted transformer or chain.</param>
    /// <param name="inputSchema">The schema of the data the model reads.</param>
    /// <param name="stream">A writable stream; left open.</param>
    public static void SavePipeline(this ModelOperationsCatalog catalog, ITransformer model, DataViewSchema inputSchema, Stream stream)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        PipelineArchive.Save(catalog, model, inputSchema, stream);
    }

    /// <summary>
    /// Loads a pipeline saved by <see cref="SavePipeline(ModelOperationsCatalog, ITransformer, DataViewSchema, string)"/>;
    /// works in a fresh <see cref="MLContext"/> and gives the same predictions as the saved model. Networks load on the CPU.
    /// </summary>
    /// <param name="catalog"><c>mlContext.Model</c>.</param>
    /// <param name="filePath">The zip file.</param>
    /// <param name="inputSchema">The schema of the data the model reads.</param>
    /// <returns>The whole pipeline as one chain.</returns>
    /// <exception cref="InvalidDataException">The file is not a pipeline archive, is newer than this library, or is corrupt.</exception>
    public static TransformerChain<ITransformer> LoadPipeline(this ModelOperationsCatalog catalog, string filePath, out DataViewSchema inputSchema)
    {
        ArgumentException.ThrowIfNullOrEmpty(filePath);
        using var file = File.OpenRead(filePath);
        return catalog.LoadPipeline(file, out inputSchema);
    }

    /// <summary>Loads a pipeline from <paramref name="stream"/> (see the file overload).</summary>
    /// <param name="catalog"><c>mlContext.Model</c>.</param>
    /// <param name="stream">A readable, seekable stream; left open.</param>
    /// <param name="inputSchema">The schema of the data the model reads.</param>
    /// <returns>The whole pipeline as one chain.</returns>
    public static TransformerChain<ITransformer> LoadPipeline(this ModelOperationsCatalog catalog, Stream stream, out DataViewSchema inputSchema)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        return PipelineArchive.Load(catalog, stream, out inputSchema);
    }
}
