using Transformer.MLNet.Generation;

namespace Transformer.MLNet.Translation;

/// <summary>Settings of <see cref="TranslationEstimator"/>.</summary>
public sealed class TranslationOptions : GenerativeEstimatorOptions
{
    /// <summary>Creates options with the default column names Source, Target and Translation.</summary>
    public TranslationOptions() => OutputColumnName = "Translation";

    /// <summary>Text column to translate (read at training and at prediction time).</summary>
    public string SourceColumnName { get; set; } = "Source";

    /// <summary>Text column with the reference translations (read only by <c>Fit</c>).</summary>
    public string TargetColumnName { get; set; } = "Target";

    /// <summary>Occurrences an o200k_base token needs in the training text to enter the vocabulary.</summary>
    public int MinTokenCount { get; set; } = 1;
}
