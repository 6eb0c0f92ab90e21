using System.IO.Compression;
using System.Text.Json;

namespace Transformer.MLNet.Persistence;

/// <summary>Writes the entries of one segment into the archive and records their SHA-256 for the manifest.</summary>
internal sealed class SegmentWriter
{
    private readonly ZipArchive archive;
    private readonly Dictionary<string, string> files = new(StringComparer.Ordinal);

    public SegmentWriter(ZipArchive archive, string folder, bool embedPretrainedEncoders)
    {
        this.archive = archive;
        Folder = folder;
        EmbedPretrainedEncoders = embedPretrainedEncoders;
    }

    /// <summary>Folder of the segment inside the archive, ending with '/'.</summary>
    public string Folder { get; }

    /// <summary>
    /// Copy unchanged pretrained encoders into the segment (a self-contained archive) instead of writing a reference
    /// to the package they were loaded from.
    /// </summary>
    public bool EmbedPretrainedEncoders { get; }

    /// <summary>Path → SHA-256 of every entry written so far.</summary>
    public IReadOnlyDictionary<string, string> Files => files;

    /// <summary>Writes an entry through <paramref name="write"/>.</summary>
    public void Write(string name, Action<Stream> write)
    {
        if (files.ContainsKey(name))
            throw new InvalidOperationException($"Entry '{name}' was already written to segment '{Folder}'.");
        files[name] = PipelineArchive.WriteEntry(archive, Folder + name, write);
    }

    /// <summary>Writes <paramref name="value"/> as an indented JSON entry.</summary>
    public void WriteJson<T>(string name, T value) =>
        Write(name, stream => JsonSerializer.Serialize(stream, value, PersistenceJson.Options));

    /// <summary>Writes every file under <paramref name="directory"/> as entries below <paramref name="prefix"/>.</summary>
    public void WriteDirectory(string prefix, string directory)
    {
        foreach (string path in Directory.EnumerateFiles(directory, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
        {
            string relative = Path.GetRelativePath(directory, path).Replace(Path.DirectorySeparatorChar, '/');
            Write(prefix + relative, stream =>
            {
                using var source = File.OpenRead(path);
                source.CopyTo(stream);
            });
        }
    }
}
