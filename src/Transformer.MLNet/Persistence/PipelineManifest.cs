namespace Transformer.MLNet.Persistence;

/// <summary>
/// <c>manifest.json</c>, the first entry of a pipeline archive: the format version and the pipeline's segments in
/// the order they run.
/// </summary>
/// <param name="Format">Always <see cref="FormatName"/>.</param>
/// <param name="FormatVersion">Version of the archive layout; readers refuse versions newer than they know.</param>
/// <param name="Segments">The pipeline's parts, in order.</param>
/// <param name="InputSchemaSha256">SHA-256 of <c>input-schema.zip</c>; absent in archives written before it was recorded.</param>
internal sealed record PipelineManifest(string Format, int FormatVersion, IReadOnlyList<SegmentManifest> Segments, string? InputSchemaSha256 = null)
{
    /// <summary>Identifies a pipeline archive.</summary>
    public const string FormatName = "Transformer.MLNet.Pipeline";

    /// <summary>
    /// The version this library writes and the newest it reads. Version 2 may refer to a packaged pretrained encoder
    /// (<c>encoder.json</c>) instead of copying it; version 1 always copied it and still loads.
    /// </summary>
    public const int CurrentVersion = 2;

    /// <summary>Name of the manifest entry.</summary>
    public const string EntryName = "manifest.json";
}

/// <summary>One segment: a run of ML.NET transformers or one of this library's transformers.</summary>
/// <param name="Kind">Which persister wrote it (<see cref="MLNetSegment.KindName"/> or one of this library's kinds).</param>
/// <param name="Folder">Folder of its entries inside the archive, e.g. <c>segments/1/</c>.</param>
/// <param name="Files">SHA-256 (lowercase hex) of every entry of the segment, by path relative to <paramref name="Folder"/>.</param>
internal sealed record SegmentManifest(string Kind, string Folder, IReadOnlyDictionary<string, string> Files);
