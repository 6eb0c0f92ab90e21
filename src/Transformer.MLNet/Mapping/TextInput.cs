namespace Transformer.MLNet.Mapping;

/// <summary>One row's input to a text mapping: a text, and the second text of a pair (null for single texts).</summary>
internal readonly record struct TextInput(string Text, string? Second);
