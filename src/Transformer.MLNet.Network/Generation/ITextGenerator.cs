namespace Transformer.MLNet.Network.Generation;

/// <summary>A trained generative model as the ML.NET glue sees it: texts in, texts out, one-stream persistence.</summary>
public interface ITextGenerator : IDisposable
{
    /// <summary>Generates one output text per input text (a translation or a continuation).</summary>
    /// <param name="inputs">Input texts.</param>
    /// <param name="options">Decoding settings; null for greedy with the cache.</param>
    /// <returns>The outputs, in input order.</returns>
    string[] GenerateText(IReadOnlyList<string> inputs, GenerationOptions? options = null);

    /// <summary>The network's sizes, with the vocabulary size of its tokenizer.</summary>
    Configuration.TransformerConfig Config { get; }

    /// <summary>Number of trainable weights.</summary>
    long ParameterCount { get; }

    /// <summary>Writes config, tokenizer and weights to one stream.</summary>
    /// <param name="stream">Destination; left open.</param>
    void Save(Stream stream);
}
