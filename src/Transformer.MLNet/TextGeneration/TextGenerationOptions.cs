using Transformer.MLNet.Generation;

namespace Transformer.MLNet.TextGeneration;

/// <summary>Settings of <see cref="TextGenerationEstimator"/>.</summary>
public sealed class TextGenerationOptions : GenerativeEstimatorOptions
{
    /// <summary>Creates options with the default column names Text, Prompt and Completion.</summary>
    public TextGenerationOptions() => OutputColumnName = "Completion";

    /// <summary>Text column the language model is trained on (read only by <c>Fit</c>).</summary>
    public string TextColumnName { get; set; } = "Text";

    /// <summary>Text column the fitted transformer continues.</summary>
    public string PromptColumnName { get; set; } = "Prompt";

    /// <summary>Tokenization of the training text and the prompts.</summary>
    public TextGenerationTokenization Tokenization { get; set; } = TextGenerationTokenization.Tiktoken;

    /// <summary>Context length of training windows; at most <c>Architecture.MaxPositions</c>.</summary>
    public int BlockSize { get; set; } = 64;
}
