namespace Transformer.MLNet.TextGeneration;

/// <summary>How the text-generation estimator tokenizes.</summary>
public enum TextGenerationTokenization
{
    /// <summary>o200k_base BPE restricted to the tokens of the training text.</summary>
    Tiktoken,

    /// <summary>One token per Unicode character of the training text (a surrogate pair, such as an emoji, is one token).</summary>
    Characters,
}
