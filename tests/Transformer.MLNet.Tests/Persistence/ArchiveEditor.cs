using System.IO.Compression;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Transformer.MLNet.Persistence;

namespace Transformer.MLNet.Tests.Persistence;

/// <summary>Rewrites pipeline archives the way a damaged disk or a hand edit would, for tests of what loading reports.</summary>
internal static class ArchiveEditor
{
    /// <summary>The entry holding the pipeline's input schema, checked against the manifest's <c>inputSchemaSha256</c>.</summary>
    public const string InputSchemaEntry = "input-schema.zip";

    /// <summary>The archive with one entry replaced (null removes it); the manifest's checksums are left as they were.</summary>
    public static byte[] Edit(byte[] archive, string entryName, Func<byte[], byte[]?> change)
    {
        using var output = new MemoryStream();
        using (var source = new ZipArchive(new MemoryStream(archive), ZipArchiveMode.Read))
        using (var target = new ZipArchive(output, ZipArchiveMode.Create, leaveOpen: true))
        {
            foreach (var entry in source.Entries)
            {
                using var buffer = new MemoryStream();
                using (var s = entry.Open())
                    s.CopyTo(buffer);
                byte[]? bytes = entry.FullName == entryName ? change(buffer.ToArray()) : buffer.ToArray();
                if (bytes is null)
                    continue;
                // Stored: deflating 90 MB of weights on every edit would make the tests slow, and the loader reads either.
                using var t = target.CreateEntry(entry.FullName, CompressionLevel.NoCompression).Open();
                t.Write(bytes);
            }
        }

        return output.ToArray();
    }

    /// <summary>The archive with its manifest changed.</summary>
    public static byte[] EditManifest(byte[] archive, Action<JsonObject> change) => Edit(archive, PipelineManifest.EntryName, bytes =>
    {
        var manifest = JsonNode.Parse(bytes)!.AsObject();
        change(manifest);
        return Encoding.UTF8.GetBytes(manifest.ToJsonString());
    });

    /// <summary>
    /// The archive with a JSON entry of a segment changed and its checksum updated in the manifest, as someone
    /// editing the file on purpose would do: only the loaders' own checks stand between the edit and the model.
    /// </summary>
    public static byte[] EditJsonAndChecksum(byte[] archive, string entryName, Action<JsonObject> change) =>
        EditAndChecksum(archive, entryName, bytes =>
        {
            var json = JsonNode.Parse(bytes)!.AsObject();
            change(json);
            return Encoding.UTF8.GetBytes(json.ToJsonString());
        });

    /// <summary>
    /// The archive with an entry of a segment, or <c>input-schema.zip</c>, changed and its checksum updated in the manifest.
    /// </summary>
    public static byte[] EditAndChecksum(byte[] archive, string entryName, Func<byte[], byte[]> change)
    {
        byte[]? edited = null;
        byte[] changed = Edit(archive, entryName, bytes => edited = change(bytes));
        Assert.IsNotNull(edited, $"The archive has no entry '{entryName}'.");
        if (entryName == InputSchemaEntry)
            return EditManifest(changed, manifest => manifest["inputSchemaSha256"] = Convert.ToHexStringLower(SHA256.HashData(edited)));
        int slash = entryName.IndexOf('/', "segments/".Length);
        string folder = entryName[..(slash + 1)], name = entryName[(slash + 1)..];
        return EditManifest(changed, manifest =>
        {
            var segment = manifest["segments"]!.AsArray().Single(s => s!["folder"]!.GetValue<string>() == folder)!;
            segment["files"]![name] = Convert.ToHexStringLower(SHA256.HashData(edited));
        });
    }

    /// <summary>The entry names of an archive.</summary>
    public static IReadOnlyList<string> Entries(byte[] archive)
    {
        using var zip = new ZipArchive(new MemoryStream(archive), ZipArchiveMode.Read);
        return zip.Entries.Select(e => e.FullName).ToList();
    }
}
