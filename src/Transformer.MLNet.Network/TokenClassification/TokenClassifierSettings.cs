namespace Transformer.MLNet.Network.TokenClassification;

/// <summary>The head and input settings saved with a <see cref="TokenClassifier"/> (<c>token_classifier.json</c>).</summary>
/// <param name="Labels">The IOB2 tags in the order of the head's outputs: <c>O</c>, <c>B-TYPE</c>, <c>I-TYPE</c>.</param>
/// <param name="MaxTokens">Most tokens per sentence, [CLS] and [SEP] included; words past the limit are tagged <c>O</c>.</param>
/// <param name="Dropout">Dropout on the token vectors during training.</param>
public sealed record TokenClassifierSettings(IReadOnlyList<string> Labels, int MaxTokens, double Dropout)
{
    /// <summary>Checks the settings and throws an error naming the offending one.</summary>
    /// <exception cref="ArgumentException">A setting is out of range or a label is not IOB2.</exception>
    public TokenClassifierSettings Validate()
    {
        ArgumentNullException.ThrowIfNull(Labels, nameof(Labels));
        if (MaxTokens < 3)
            throw new ArgumentOutOfRangeException(nameof(MaxTokens), MaxTokens, "MaxTokens must be at least 3 ([CLS], one word piece and [SEP]).");
        if (!(Dropout >= 0 && Dropout < 1))   // NaN fails here too
            throw new ArgumentOutOfRangeException(nameof(Dropout), Dropout, "Dropout must be in [0, 1).");
        if (!Labels.Contains(Metrics.EntitySpans.Outside))
        {
            throw new ArgumentException(
                $"The labels ({string.Join(", ", Labels)}) have no 'O' (outside) tag; token classification needs IOB2 tags: 'O', 'B-TYPE', 'I-TYPE'.", nameof(Labels));
        }

        if (Labels.Distinct(StringComparer.Ordinal).Count() != Labels.Count)
            throw new ArgumentException($"The labels ({string.Join(", ", Labels)}) repeat a tag; each tag must appear once.", nameof(Labels));
        _ = new Metrics.Iob2Decoder(Labels);   // every tag IOB2, every I- with its B-
        return this;
    }
}
