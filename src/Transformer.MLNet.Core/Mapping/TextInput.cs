namespace Transformer.MLNet.Mapping;

/// <summary>
/// One row's input to a text mapping: the value of the input column (a <see cref="string"/>, or a <see cref="string"/>
/// array of words where the transformer accepts words), and the second text of a pair (null for single values).
/// </summary>
internal readonly record struct TextInput(object Value, string? Second)
{
    /// <summary>Whether <paramref name="other"/> holds the same input (texts compared ordinally, words element by element).</summary>
    public bool SameAs(TextInput? other) =>
        other is { } o && TextColumn.SameValue(Value, o.Value) && string.Equals(Second, o.Second, StringComparison.Ordinal);
}
