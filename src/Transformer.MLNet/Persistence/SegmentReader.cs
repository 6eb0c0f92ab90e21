using System.IO.Compression;
using System.Security.Cryptography;
using System.Text.Json;

namespace Transformer.MLNet.Persistence;

/// <summary>Reads the entries of one segment, checking each against the SHA-256 the manifest recorded.</summary>
internal sealed class SegmentReader
{
    private readonly ZipArchive archive;
    private readonly SegmentManifest manifest;

    public SegmentReader(ZipArchive archive, SegmentManifest manifest)
    {
        this.archive = archive;
        this.manifest = manifest;
    }

    /// <summary>Paths of the segment's entries, relative to its folder.</summary>
    public IEnumerable<string> Names => manifest.Files.Keys;

    /// <summary>The verified bytes of an entry.</summary>
    /// <exception cref="InvalidDataException">The entry is missing or its checksum does not match.</exception>
    public MemoryStream Open(string name)
    {
        if (!manifest.Files.TryGetValue(name, out string? expected))
            throw new InvalidDataException($"Segment '{manifest.Folder}' ({manifest.Kind}) lists no entry '{name}'; the archive is incomplete.");
        var entry = archive.GetEntry(manifest.Folder + name)
            ?? throw new InvalidDataException($"Entry '{manifest.Folder + name}' is missing from the pipeline archive.");
        var buffer = new MemoryStream();
        using (var source = entry.Open())
            source.CopyTo(buffer);
        string actual = Convert.ToHexStringLower(SHA256.HashData(buffer.GetBuffer().AsSpan(0, (int)buffer.Length)));
        if (!string.Equals(actual, expected, StringComparison.Ordinal))
        {
            throw new InvalidDataException(
                $"Entry '{manifest.Folder + name}' of the pipeline archive is corrupt: SHA-256 {actual}, manifest says {expected}.");
        }

        buffer.Position = 0;
        return buffer;
    }

    /// <summary>Reads a JSON entry.</summary>
    public T ReadJson<T>(string name)
    {
        using var stream = Open(name);
        return JsonSerializer.Deserialize<T>(stream, PersistenceJson.Options)
            ?? throw new InvalidDataException($"Entry '{manifest.Folder + name}' is empty.");
    }

    /// <summary>Extracts the verified entries below <paramref name="prefix"/> into <paramref name="directory"/>.</summary>
    public void ExtractDirectory(string prefix, string directory)
    {
        string root = Path.GetFullPath(directory);
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
    }
}
