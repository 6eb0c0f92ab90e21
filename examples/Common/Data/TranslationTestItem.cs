namespace Transformer.MLNet.Examples.Data;

/// <summary>A held-out source sentence with every translation of it in the data, for multi-reference BLEU.</summary>
/// <param name="Source">Text in the source language.</param>
/// <param name="References">All its translations.</param>
public sealed record TranslationTestItem(string Source, IReadOnlyList<string> References);
