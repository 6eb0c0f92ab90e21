namespace Transformer.MLNet.Network.Classification;

/// <summary>The head and input settings saved with a <see cref="TextClassifier"/> (<c>classifier.json</c>).</summary>
/// <param name="ClassCount">Number of classes.</param>
/// <param name="MaxTokens">Most tokens per text, [CLS] and [SEP] included; longer texts are cut.</param>
/// <param name="Dropout">Dropout on the pooled vector during training.</param>
public sealed record TextClassifierSettings(int ClassCount, int MaxTokens, double Dropout)
{
    /// <summary>Checks the settings and throws an error naming the offending one.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A setting is out of range.</exception>
    public TextClassifierSettings Validate()
    {
        if (ClassCount < 2)
            throw new ArgumentOutOfRangeException(nameof(ClassCount), ClassCount, "A classifier needs at least 2 classes; the label column has fewer distinct values.");
        if (MaxTokens < 2)
            throw new ArgumentOutOfRangeException(nameof(MaxTokens), MaxTokens, "MaxTokens must be at least 2 ([CLS] and [SEP]).");
        if (Dropout is < 0 or >= 1)
            throw new ArgumentOutOfRangeException(nameof(Dropout), Dropout, "Dropout must be in [0, 1).");
        return this;
    }
}
