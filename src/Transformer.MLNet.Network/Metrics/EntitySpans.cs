namespace Transformer.MLNet.Network.Metrics;

/// <summary>One entity over a sentence's words: its type and the words [<see cref="Start"/>, <see cref="End"/>).</summary>
/// <param name="Type">Entity type, e.g. "PER".</param>
/// <param name="Start">Index of its first word.</param>
/// <param name="End">Index one past its last word.</param>
internal readonly record struct EntitySpan(string Type, int Start, int End);

/// <summary>
/// Reads entities out of IOB2 tags (<c>B-TYPE</c> begins an entity, <c>I-TYPE</c> continues it, <c>O</c> is outside) the
/// way conlleval and seqeval's default mode do, so that scores agree with the published ones.
/// </summary>
/// <remarks>
/// An <c>I-TYPE</c> that does not continue an entity of the same type (after <c>O</c>, at the start, or after another
/// type) begins a new entity, as conlleval counts it. A tag without a prefix other than <c>O</c> is an error, not a guess.
/// </remarks>
internal static class EntitySpans
{
    /// <summary>The outside tag.</summary>
    public const string Outside = "O";

    /// <summary>The entities of one tagged sentence, in order.</summary>
    /// <param name="tags">One IOB2 tag per word.</param>
    /// <returns>The entities found.</returns>
    /// <exception cref="ArgumentException">A tag is neither <c>O</c> nor <c>B-…</c>/<c>I-…</c> with a type.</exception>
    public static IReadOnlyList<EntitySpan> FromIob2(IReadOnlyList<string> tags)
    {
        ArgumentNullException.ThrowIfNull(tags);
        var spans = new List<EntitySpan>();
        string? type = null;
        int start = 0;
        for (int i = 0; i < tags.Count; i++)
        {
            var (prefix, tagType) = Parse(tags[i], i);
            bool continues = prefix == 'I' && type is not null && string.Equals(type, tagType, StringComparison.Ordinal);
            if (continues)
                continue;
            if (type is not null)
                spans.Add(new EntitySpan(type, start, i));
            (type, start) = prefix == 'O' ? (null, i) : (tagType, i);
        }

        if (type is not null)
            spans.Add(new EntitySpan(type, start, tags.Count));
        return spans;
    }

    /// <summary>IOB2 tags for entities over <paramref name="wordCount"/> words (the inverse of <see cref="FromIob2"/>).</summary>
    /// <param name="spans">Entities that do not overlap.</param>
    /// <param name="wordCount">Number of words in the sentence.</param>
    /// <returns>One tag per word.</returns>
    /// <exception cref="ArgumentException">A span is empty, out of range or overlaps another.</exception>
    public static string[] ToIob2(IEnumerable<EntitySpan> spans, int wordCount)
    {
        ArgumentNullException.ThrowIfNull(spans);
        var tags = Enumerable.Repeat(Outside, wordCount).ToArray();
        foreach (var span in spans)
        {
            if (span.Start < 0 || span.End > wordCount || span.Start >= span.End || string.IsNullOrEmpty(span.Type))
                throw new ArgumentException($"Entity {span} does not fit a sentence of {wordCount} words.", nameof(spans));
            for (int i = span.Start; i < span.End; i++)
            {
                if (!ReferenceEquals(tags[i], Outside))
                    throw new ArgumentException($"Entity {span} overlaps another entity at word {i}.", nameof(spans));
                tags[i] = (i == span.Start ? "B-" : "I-") + span.Type;
            }
        }

        return tags;
    }

    /// <summary>Splits a tag into its prefix ('B', 'I' or 'O') and type.</summary>
    internal static (char Prefix, string Type) Parse(string tag, int position)
    {
        if (tag == Outside)
            return ('O', "");
        if (tag is null || tag.Length < 3 || tag[1] != '-' || (tag[0] != 'B' && tag[0] != 'I'))
        {
            throw new ArgumentException(
                $"Tag '{tag}' at word {position} is not IOB2: use 'O', or 'B-TYPE' / 'I-TYPE' with a non-empty type.", nameof(tag));
        }

        return (tag[0], tag[2..]);
    }
}
