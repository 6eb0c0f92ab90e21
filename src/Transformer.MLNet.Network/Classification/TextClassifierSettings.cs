namespace Transformer.MLNet.Network.Classification;

/// <summary>The head and input settings saved with a <see cref="TextClassifier"/> (<c>classifier.json</c>).</summary>
/// <param name="ClassCount">Number of classes; 1 for a regression head.</param>
/// <param name="MaxTokens">Most tokens per input, [CLS] and [SEP] included; longer inputs are cut (a pair shares the budget).</param>
/// <param name="Dropout">Dropout on the pooled vector during training.</param>
public sealed record TextClassifierSettings(int ClassCount, int MaxTokens, double Dropout)
{
    /// <summary>
    /// Predict one real number per input instead of classes (a regression head: <see cref="ClassCount"/> is 1). The
    /// network is trained on targets standardised with <see cref="TargetMean"/> and <see cref="TargetScale"/>, and its
    /// output is mapped back to the targets' units.
    /// </summary>
    public bool Regression { get; init; }

    /// <summary>Mean of the regression targets in training; the network's output 0 means this value.</summary>
    public double TargetMean { get; init; }

    /// <summary>Standard deviation of the regression targets in training (1 when they do not vary); one unit of output.</summary>
    public double TargetScale { get; init; } = 1;

    /// <summary>
    /// The inputs are text pairs, read as BERT reads a pair: <c>[CLS] first [SEP] second [SEP]</c> with token type 1
    /// on the second text (a cross-encoder when <see cref="Regression"/>).
    /// </summary>
    public bool Pairs { get; init; }

    /// <summary>Checks the settings and throws an error naming the offending one.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A setting is out of range.</exception>
    public TextClassifierSettings Validate()
    {
        if (Regression && ClassCount != 1)
            throw new ArgumentOutOfRangeException(nameof(ClassCount), ClassCount, "A regression head has exactly 1 output; set ClassCount = 1.");
        if (!Regression && ClassCount < 2)
            throw new ArgumentOutOfRangeException(nameof(ClassCount), ClassCount, "A classifier needs at least 2 classes; the label column has fewer distinct values.");
        if (MaxTokens < (Pairs ? 3 : 2))
        {
            throw new ArgumentOutOfRangeException(nameof(MaxTokens), MaxTokens,
                Pairs ? "MaxTokens must be at least 3 for text pairs ([CLS] and two [SEP])." : "MaxTokens must be at least 2 ([CLS] and [SEP]).");
        }

        if (!(Dropout >= 0 && Dropout < 1))   // NaN fails here too
            throw new ArgumentOutOfRangeException(nameof(Dropout), Dropout, "Dropout must be in [0, 1).");
        if (!double.IsFinite(TargetMean) || !(TargetScale > 0) || !double.IsFinite(TargetScale))
            throw new ArgumentOutOfRangeException(nameof(TargetScale), TargetScale, "TargetMean must be finite and TargetScale positive and finite.");
        return this;
    }
}
