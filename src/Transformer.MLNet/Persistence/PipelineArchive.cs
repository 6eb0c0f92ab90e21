using System.IO.Compression;
using System.Text.Json;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace Transformer.MLNet.Persistence;

/// <summary>
/// Writes and reads a whole pipeline — ML.NET's own transformers and this library's — as one zip archive.
/// </summary>
/// <remarks>
/// Layout (format version 1):
/// <list type="bullet">
/// <item><c>manifest.json</c>: <c>{ format, formatVersion, segments: [{ kind, folder, files: { path: sha256 } }] }</c>,
/// segments in the order they run.</item>
/// <item><c>input-schema.zip</c>: an empty ML.NET model saved with the pipeline's input schema.</item>
/// <item><c>segments/{i}/</c>: kind <c>mlnet</c> holds <c>model.zip</c>, a run of consecutive ML.NET transformers saved
/// by <c>mlContext.Model.Save</c> with the schema they read; each of this library's kinds holds its own entries
/// (documented on its persister), typically <c>options.json</c>, <c>config.json</c>, weights and vocabulary.</item>
/// </list>
/// Every entry's SHA-256 is checked on load. Loading reads data only: JSON into fixed records, tensors into networks
/// built from the saved config, and ML.NET models through ML.NET's own loader.
/// </remarks>
internal static class PipelineArchive
{
    private const string InputSchemaEntry = "input-schema.zip";

    public static void Save(ModelOperationsCatalog catalog, ITransformer model, DataViewSchema inputSchema, Stream stream)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(inputSchema);
        ArgumentNullException.ThrowIfNull(stream);
        using var archive = new ZipArchive(stream, ZipArchiveMode.Create, leaveOpen: true);
        var empty = new TransformerChain<ITransformer>();
        WriteEntry(archive, InputSchemaEntry, s => catalog.Save(empty, inputSchema, s));

        var segments = new List<SegmentManifest>();
        var mlnetRun = new List<ITransformer>();
        DataViewSchema runSchema = inputSchema;
        DataViewSchema schema = inputSchema;

        void FlushRun()
        {
            if (mlnetRun.Count == 0)
                return;
            var writer = new SegmentWriter(archive, $"segments/{segments.Count}/");
            var chain = new TransformerChain<ITransformer>(mlnetRun.ToArray());
            var savedSchema = runSchema;
            writer.Write(MLNetSegment.ModelEntry, s => catalog.Save(chain, savedSchema, s));
            segments.Add(new SegmentManifest(MLNetSegment.KindName, writer.Folder, writer.Files));
            mlnetRun.Clear();
        }

        foreach (var transformer in Flatten(model))
        {
            var persister = TransformerPersisters.For(transformer);
            if (persister is null)
            {
                if (mlnetRun.Count == 0)
                    runSchema = schema;
                mlnetRun.Add(transformer);
            }
            else
            {
                FlushRun();
                var writer = new SegmentWriter(archive, $"segments/{segments.Count}/");
                persister.Save(transformer, writer);
                segments.Add(new SegmentManifest(persister.Kind, writer.Folder, writer.Files));
            }

            schema = transformer.GetOutputSchema(schema);
        }

        FlushRun();
        var manifest = new PipelineManifest(PipelineManifest.FormatName, PipelineManifest.CurrentVersion, segments);
        WriteEntry(archive, PipelineManifest.EntryName, s => JsonSerializer.Serialize(s, manifest, PersistenceJson.Options));
    }

    public static TransformerChain<ITransformer> Load(ModelOperationsCatalog catalog, Stream stream, out DataViewSchema inputSchema)
    {
        ArgumentNullException.ThrowIfNull(stream);
        using var archive = new ZipArchive(stream, ZipArchiveMode.Read, leaveOpen: true);
        var manifest = ReadManifest(archive);
        using (var schemaStream = ReadEntry(archive, InputSchemaEntry))
            catalog.Load(schemaStream, out inputSchema);

        var transformers = new List<ITransformer>();
        foreach (var segment in manifest.Segments)
        {
            var reader = new SegmentReader(archive, segment);
            if (segment.Kind == MLNetSegment.KindName)
            {
                using var model = reader.Open(MLNetSegment.ModelEntry);
                transformers.AddRange(Flatten(catalog.Load(model, out _)));
            }
            else
            {
                transformers.Add(TransformerPersisters.ForKind(segment.Kind).Load(reader));
            }
        }

        return new TransformerChain<ITransformer>(transformers.ToArray());
    }

    /// <summary>The transformers of a (possibly nested) chain, in the order they run.</summary>
    public static IEnumerable<ITransformer> Flatten(ITransformer transformer)
    {
        if (transformer is IEnumerable<ITransformer> chain)
        {
            foreach (var inner in chain)
            {
                foreach (var leaf in Flatten(inner))
                    yield return leaf;
            }
        }
        else
        {
            yield return transformer;
        }
    }

    private static PipelineManifest ReadManifest(ZipArchive archive)
    {
        PipelineManifest? manifest;
        using (var stream = ReadEntry(archive, PipelineManifest.EntryName))
        {
            try
            {
                manifest = JsonSerializer.Deserialize<PipelineManifest>(stream, PersistenceJson.Options);
            }
            catch (JsonException e)
            {
                throw new InvalidDataException($"{PipelineManifest.EntryName} of the pipeline archive is not valid: {e.Message}", e);
            }
        }

        if (manifest is null || manifest.Format != PipelineManifest.FormatName)
        {
            throw new InvalidDataException(
                $"This file is not a Transformer.MLNet pipeline archive (format '{manifest?.Format}'). " +
                "Models saved with mlContext.Model.Save load with mlContext.Model.Load.");
        }

        if (manifest.FormatVersion > PipelineManifest.CurrentVersion)
        {
            throw new InvalidDataException(
                $"The pipeline archive has format version {manifest.FormatVersion}; this version of Transformer.MLNet reads up to " +
                $"{PipelineManifest.CurrentVersion}. Update the library.");
        }

        return manifest;
    }

    private static void WriteEntry(ZipArchive archive, string name, Action<Stream> write)
    {
        using var buffer = new MemoryStream();
        write(buffer);
        buffer.Position = 0;
        using var target = archive.CreateEntry(name, CompressionLevel.Fastest).Open();
        buffer.CopyTo(target);
    }

    private static MemoryStream ReadEntry(ZipArchive archive, string name)
    {
        var entry = archive.GetEntry(name)
            ?? throw new InvalidDataException(
                $"The file is not a Transformer.MLNet pipeline archive: it has no '{name}' entry. " +
                "Models saved with mlContext.Model.Save load with mlContext.Model.Load.");
        var buffer = new MemoryStream();
        using (var source = entry.Open())
            source.CopyTo(buffer);
        buffer.Position = 0;
        return buffer;
    }
}
