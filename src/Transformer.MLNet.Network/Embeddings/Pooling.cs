namespace Transformer.MLNet.Network.Embeddings;

/// <summary>How token vectors become one sentence vector. Padding never takes part.</summary>
public enum Pooling
{
    /// <summary>Average of the real tokens' vectors ([CLS] and [SEP] included), as sentence-transformers does.</summary>
    Mean,

    /// <summary>The [CLS] token's vector.</summary>
    Cls,

    /// <summary>Element-wise maximum over the real tokens.</summary>
    Max,
}
