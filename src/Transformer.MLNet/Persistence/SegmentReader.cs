using System.IO.Compression;
using System.Text.Json;
using Microsoft.ML;

namespace Transformer.MLNet.Persistence;

/// <summary>Reads the entries of one segment, checking each against the SHA-256 the manifest recorded.</summary>
internal sealed class SegmentReader
{
    private readonly ZipArchive archive;
    private readonly SegmentManifest manifest;
    private readonly string where;
    private readonly ArchiveEntryLimits limits;
    private readonly List<(string Root, string Prefix)> extracted = [];

    // The entry (or, after an extraction, the folder of entries) the persister read last, for errors its loaders raise.
    private string? current;

    /// <param name="archive">The pipeline archive.</param>
    /// <param name="manifest">The segment's record in the manifest.</param>
    /// <param name="where">"the pipeline archive", with the file's path where known, for errors about an entry.</param>
    /// <param name="limits">The most an entry may inflate to.</param>
    public SegmentReader(ZipArchive archive, SegmentManifest manifest, string where, ArchiveEntryLimits limits)
    {
        this.archive = archive;
        this.manifest = manifest;
        this.where = where;
        this.limits = limits;
    }

    /// <summary>Folder of the segment inside the archive, ending with '/'.</summary>
    public string Folder => manifest.Folder;

    /// <summary>Paths of the segment's entries, relative to its folder.</summary>
    public IEnumerable<string> Names => manifest.Files.Keys;

    /// <summary>The verified bytes of an entry.</summary>
    /// <exception cref="InvalidDataException">The entry is missing or its checksum does not match.</exception>
    public MemoryStream Open(string name)
    {
        if (!manifest.Files.TryGetValue(name, out string? expected))
            throw new InvalidDataException($"Segment '{manifest.Folder}' ({manifest.Kind}) lists no entry '{name}'; the archive is incomplete.");
        current = name;
        var entry = archive.GetEntry(manifest.Folder + name)
            ?? throw new InvalidDataException($"Entry '{manifest.Folder + name}' is missing from {where}.");
        var buffer = PipelineArchive.ReadBytes(entry, where, limits);
        string actual = PipelineArchive.Sha256(buffer);
        if (!string.Equals(actual, expected, StringComparison.Ordinal))
        {
            throw new InvalidDataException(
                $"Entry '{manifest.Folder + name}' of {where} is corrupt: SHA-256 {actual}, manifest says {expected}.");
        }

        buffer.Position = 0;
        return buffer;
    }

    /// <summary>Reads a JSON entry.</summary>
    public T ReadJson<T>(string name)
    {
        using var stream = Open(name);
        try
        {
            return JsonSerializer.Deserialize<T>(stream, PersistenceJson.Options)
                ?? throw new InvalidDataException($"Entry '{manifest.Folder + name}' is empty.");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"Entry '{manifest.Folder + name}' of {where} is not valid: {e.Message}", e);
        }
    }

    /// <summary>
    /// Runs <paramref name="load"/> (a persister's <c>Load</c>) on this segment. The network's loaders report files
    /// of the temporary folder the entries were extracted to; their errors come out naming the entries instead. An
    /// argument check that a persister did not pre-empt with <see cref="Require"/> comes out as an
    /// <see cref="InvalidDataException"/> naming the segment. Any other failure of the loaders on the entries' content
    /// (but the missing package of a pretrained encoder, cancellation and the runtime's own failures) comes out as an
    /// <see cref="InvalidDataException"/> naming the entry read last.
    /// </summary>
    public ITransformer Load(Func<SegmentReader, ITransformer> load)
    {
        try
        {
            return load(this);
        }
        catch (Exception e) when (e is InvalidDataException or IOException && extracted.Any(x => e.Message.Contains(x.Root, StringComparison.Ordinal)))
        {
            throw new InvalidDataException(NameEntries(e.Message), e);
        }
        catch (ArgumentException e)
        {
            throw new InvalidDataException(
                $"Segment '{manifest.Folder}' ({manifest.Kind}) holds a value this library refuses{WhileReading()}: {NameEntries(e.Message)} " +
                "The archive was edited or is damaged; save the pipeline again.", e);
        }
        catch (Exception e) when (e is not (InvalidDataException or FileNotFoundException) && PipelineArchive.IsWrappable(e))
        {
            throw new InvalidDataException(
                $"Segment '{manifest.Folder}' ({manifest.Kind}) of {where} failed to load{WhileReading()}: {e.GetType().Name}: {NameEntries(e.Message)} " +
                "The entry is damaged or was edited; save the pipeline again, or check that the file is a pipeline saved by " +
                "mlContext.Model.SavePipeline.", e);
        }
    }

    private string WhileReading() => current is null ? "" : $" while reading entry '{manifest.Folder + current}'";

    /// <summary>Throws unless <paramref name="ok"/>: a value read from a JSON entry breaks <paramref name="rule"/>.</summary>
    /// <param name="ok">Whether the value is valid.</param>
    /// <param name="entry">The entry, relative to the segment's folder.</param>
    /// <param name="property">The C# property; the message spells it as the entry does.</param>
    /// <param name="value">The value read.</param>
    /// <param name="rule">What a valid value is.</param>
    public void Require([System.Diagnostics.CodeAnalysis.DoesNotReturnIf(false)] bool ok, string entry, string property, object? value, string rule)
    {
        if (ok)
            return;
        string key = PersistenceJson.Options.PropertyNamingPolicy?.ConvertName(property) ?? property;
        throw new InvalidDataException(
            $"{manifest.Folder + entry}: {key} = {value} is invalid: {rule}. The entry was edited or is damaged; save the pipeline again.");
    }

    /// <summary>Extracts the verified entries below <paramref name="prefix"/> into <paramref name="directory"/>.</summary>
    public void ExtractDirectory(string prefix, string directory)
    {
        string root = Path.GetFullPath(directory);
        extracted.Add((root, prefix));
        foreach (string name in Names.Where(n => n.StartsWith(prefix, StringComparison.Ordinal)))
        {
            string target = Path.GetFullPath(Path.Combine(root, name[prefix.Length..]));
            if (!target.StartsWith(root + Path.DirectorySeparatorChar, StringComparison.Ordinal))
                throw new InvalidDataException($"Entry '{name}' would be extracted outside its folder.");
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            using var source = Open(name);
            using var file = File.Create(target);
            source.CopyTo(file);
        }

        current = prefix;
    }

    // Replaces paths below an extraction folder with the archive entries they were extracted from.
    private string NameEntries(string message)
    {
        foreach (var (root, prefix) in extracted)
        {
            message = message
                .Replace(root + Path.DirectorySeparatorChar, manifest.Folder + prefix, StringComparison.Ordinal)
                .Replace(root, (manifest.Folder + prefix).TrimEnd('/'), StringComparison.Ordinal);
        }

        return message;
    }
}
