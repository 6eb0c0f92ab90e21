using System.IO.Compression;

namespace Transformer.MLNet.Persistence;

/// <summary>
/// How much one entry of a pipeline archive may inflate to before loading refuses it, so that a crafted or damaged
/// archive (a "zip bomb") fails promptly with an <see cref="InvalidDataException"/> instead of exhausting memory.
/// </summary>
/// <param name="MaxTextEntryBytes">Settings, manifest and vocabulary entries (JSON, text): real ones are kilobytes to a
/// few megabytes.</param>
/// <param name="MaxBinaryEntryBytes">Weights, serialized networks and nested zips (<c>.safetensors</c>, <c>.bin</c>,
/// <c>.onnx</c>, <c>.zip</c>): an entry is read into one buffer, which cannot exceed <see cref="Array.MaxLength"/>.</param>
/// <param name="MaxCompressionRatio">Inflated size over compressed size, checked once an entry exceeds
/// <paramref name="MinBytesForRatioCheck"/>. The writer stores weights uncompressed and JSON deflates about tenfold;
/// deflate cannot exceed about 1032:1, which only long runs of one byte reach.</param>
/// <param name="MinBytesForRatioCheck">Entries up to this size are not checked for their ratio.</param>
internal sealed record ArchiveEntryLimits(long MaxTextEntryBytes, long MaxBinaryEntryBytes, long MaxCompressionRatio, long MinBytesForRatioCheck)
{
    /// <summary>64 MiB for text entries, <see cref="Array.MaxLength"/> for weights, 256:1 above 1 MiB.</summary>
    public static ArchiveEntryLimits Default { get; } = new(64L << 20, Array.MaxLength, 256, 1L << 20);

    private static readonly string[] BinaryExtensions = [".safetensors", ".onnx", ".bin", ".zip"];

    /// <summary>Whether <paramref name="name"/> is a weights or nested-zip entry (stored uncompressed by the writer).</summary>
    public static bool IsBinary(string name) =>
        BinaryExtensions.Any(extension => name.EndsWith(extension, StringComparison.OrdinalIgnoreCase));

    /// <summary>The most bytes <paramref name="entry"/> may inflate to.</summary>
    public long MaxBytes(ZipArchiveEntry entry) => IsBinary(entry.FullName) ? MaxBinaryEntryBytes : MaxTextEntryBytes;

    /// <summary>The most bytes <paramref name="entry"/> may inflate to for its compressed size.</summary>
    public long MaxBytesForRatio(ZipArchiveEntry entry) =>
        Math.Max(MinBytesForRatioCheck, entry.CompressedLength > long.MaxValue / MaxCompressionRatio ? long.MaxValue : entry.CompressedLength * MaxCompressionRatio);
}
