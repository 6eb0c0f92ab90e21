namespace Transformer.MLNet.Network.Generation;

/// <summary>One sentence and one of its translations.</summary>
/// <param name="Source">Text in the source language.</param>
/// <param name="Target">Its translation.</param>
public sealed record TranslationPair(string Source, string Target);
