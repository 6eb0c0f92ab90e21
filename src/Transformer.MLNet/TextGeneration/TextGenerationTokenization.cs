namespace Transformer.MLNet.TextGeneration;

/// <summary>How the text-generation estimator tokenizes.</summary>
public enum TextGenerationTokenization
{
    /// <summary>o200k_base BPE restricted to the tokens of the training text.</summary>
    Tiktoken,

    /// <summary>One token per character of the training text.</summary>
    Characters,
}
