namespace Transformer.MLNet.Network.Configuration;

/// <summary>Position-wise feed-forward non-linearity.</summary>
public enum Activation
{
    /// <summary>max(0, x), as in "Attention Is All You Need" (eq. 2).</summary>
    Relu,

    /// <summary>Gaussian error linear unit (erf form), as in BERT.</summary>
    Gelu,
}

/// <summary>How positions are encoded.</summary>
public enum PositionalEncodingKind
{
    /// <summary>Fixed sines and cosines of geometric wavelengths (paper, section 3.5).</summary>
    Sinusoidal,

    /// <summary>A learned embedding per position (BERT, GPT).</summary>
    Learned,
}

/// <summary>
/// Every size and switch of a Transformer network, with the named presets the project uses. Build networks from
/// a config, never from literals scattered in code.
/// </summary>
/// <remarks>Sizes of Base and Big: Vaswani et al. 2017, "Attention Is All You Need", Table 3. MiniLM-L6: the
/// config.json of sentence-transformers/all-MiniLM-L6-v2.</remarks>
public sealed record TransformerConfig
{
    /// <summary>Preset name, for logs and saved models.</summary>
    public string Name { get; init; } = "Custom";

    /// <summary>Token vocabulary size (shared by source, target and output where tied).</summary>
    public int VocabSize { get; init; } = 37000;

    /// <summary>d_model: width of every sub-layer's input and output.</summary>
    public int ModelDim { get; init; } = 512;

    /// <summary>h: number of attention heads; <see cref="ModelDim"/> must be divisible by it.</summary>
    public int Heads { get; init; } = 8;

    /// <summary>d_ff: inner width of the position-wise feed-forward network.</summary>
    public int FeedForwardDim { get; init; } = 2048;

    /// <summary>N for the encoder stack.</summary>
    public int EncoderLayers { get; init; } = 6;

    /// <summary>N for the decoder stack.</summary>
    public int DecoderLayers { get; init; } = 6;

    /// <summary>P_drop, applied to sub-layer outputs, to embedding sums and to attention weights.</summary>
    public double Dropout { get; init; } = 0.1;

    /// <summary>Feed-forward non-linearity.</summary>
    public Activation Activation { get; init; } = Activation.Relu;

    /// <summary>LayerNorm epsilon.</summary>
    public double LayerNormEps { get; init; } = 1e-5;

    /// <summary>Sinusoidal (paper) or learned (BERT/GPT) positions.</summary>
    public PositionalEncodingKind PositionalEncoding { get; init; } = PositionalEncodingKind.Sinusoidal;

    /// <summary>Longest sequence the positional encoding covers.</summary>
    public int MaxPositions { get; init; } = 512;

    /// <summary>Number of token types (segments) for BERT-style encoders; 0 for none.</summary>
    public int TypeVocabSize { get; init; }

    /// <summary>LayerNorm before each sub-layer (pre-LN) instead of after the residual sum (post-LN, the paper's).</summary>
    public bool PreLayerNorm { get; init; }

    /// <summary>Multiply token embeddings by √d_model (paper, section 3.4).</summary>
    public bool ScaleEmbeddings { get; init; } = true;

    /// <summary>Share the output projection's weight with the target embedding (paper, section 3.4).</summary>
    public bool TieEmbeddings { get; init; } = true;

    /// <summary>
    /// Encoder and decoder share one token embedding (with a vocabulary shared by source and target, as in the paper,
    /// section 3.4); together with <see cref="TieEmbeddings"/> all three weight matrices are one.
    /// </summary>
    public bool ShareEncoderDecoderEmbeddings { get; init; } = true;

    /// <summary>Id of the padding token.</summary>
    public int PadTokenId { get; init; }

    /// <summary>Width of one head: d_k = d_v = d_model / h.</summary>
    public int HeadDim => ModelDim / Heads;

    /// <summary>The paper's base model: N=6, d_model=512, h=8, d_ff=2048, P_drop=0.1, shared 37k vocabulary.</summary>
    public static TransformerConfig Base { get; } = new() { Name = "Base" };

    /// <summary>The paper's big model: N=6, d_model=1024, h=16, d_ff=4096, P_drop=0.3.</summary>
    public static TransformerConfig Big { get; } = new()
    {
        Name = "Big", ModelDim = 1024, Heads = 16, FeedForwardDim = 4096, Dropout = 0.3,
    };

    /// <summary>all-MiniLM-L6-v2: BERT-style encoder, 6 layers, 384 wide, 12 heads, d_ff 1536, GELU, eps 1e-12.</summary>
    public static TransformerConfig MiniLmL6 { get; } = new()
    {
        Name = "MiniLM-L6",
        VocabSize = 30522,
        ModelDim = 384,
        Heads = 12,
        FeedForwardDim = 1536,
        EncoderLayers = 6,
        DecoderLayers = 0,
        Dropout = 0.1,
        Activation = Activation.Gelu,
        LayerNormEps = 1e-12,
        PositionalEncoding = PositionalEncodingKind.Learned,
        MaxPositions = 512,
        TypeVocabSize = 2,
        ScaleEmbeddings = false,
        TieEmbeddings = false,
    };

    /// <summary>A network small enough for unit tests: 2 layers, 64 wide, 4 heads.</summary>
    public static TransformerConfig Tiny { get; } = new()
    {
        Name = "Tiny", VocabSize = 64, ModelDim = 64, Heads = 4, FeedForwardDim = 128,
        EncoderLayers = 2, DecoderLayers = 2, Dropout = 0.0, MaxPositions = 128,
    };

    // Upper bounds, far above any published Transformer (the largest use ~100 layers, 25k-wide hidden states, 1M
    // positions and 256k-token vocabularies), so that a damaged or hostile config fails with a message naming the field
    // instead of asking libtorch for terabytes.
    private const int MaxVocabSize = 1 << 24, MaxModelDim = 1 << 16, MaxFeedForwardDim = 1 << 20, MaxLayers = 1024,
        MaxMaxPositions = 1 << 20, MaxTypeVocabSize = 1 << 16;

    /// <summary>Checks the config and throws an error naming the offending field and value.</summary>
    /// <remarks>
    /// Besides the lower bounds, sizes are capped far above any published model: at most 2^24 tokens, a model width
    /// of 65536, a feed-forward width of 2^20, 1024 layers per stack, 2^20 positions and 65536 token types.
    /// </remarks>
    /// <exception cref="ArgumentException">A field is out of range.</exception>
    public TransformerConfig Validate() =>
        Validate(field => "TransformerConfig." + field, field => field, (message, field) => new ArgumentException(message, field));

    /// <summary>
    /// A lower bound on the parameters of a model of this config with <paramref name="layers"/> layers in all: the token
    /// embedding, and per layer the four attention projections and the feed-forward pair (biases, norms, positions,
    /// cross-attention and untied heads come on top).
    /// </summary>
    /// <param name="layers">The layers the model builds (a decoder-only model ignores <see cref="EncoderLayers"/>, BERT <see cref="DecoderLayers"/>).</param>
    internal double MinimumParameters(int layers)
    {
        double dim = ModelDim;
        return (double)VocabSize * dim + (double)layers * (4 * dim * dim + 2 * dim * FeedForwardDim);
    }

    /// <summary>
    /// Refuses, before any weight is allocated, a model whose float32 weights alone exceed the memory this process may
    /// use: within the field limits a config can still ask for terabytes, and building it would end with the process
    /// killed by the operating system rather than with an error. The count is <see cref="MinimumParameters"/>, so no
    /// model that fits is refused.
    /// </summary>
    /// <param name="layers">The layers the model builds.</param>
    /// <exception cref="ArgumentException">The model cannot fit in memory.</exception>
    internal void CheckFitsInMemory(int layers)
    {
        double parameters = MinimumParameters(layers);
        double bytes = 4 * parameters;
        long available = GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;
        if (available > 0 && bytes > available)
        {
            throw new ArgumentException(
                $"The architecture (ModelDim {ModelDim}, FeedForwardDim {FeedForwardDim}, {layers} layers, VocabSize {VocabSize}) has at least " +
                $"{parameters:N0} parameters, {bytes / (1L << 30):N1} GiB of float32 weights, more than the {available / (double)(1L << 30):N1} GiB " +
                "of memory available here. Choose a smaller ModelDim, FeedForwardDim or fewer layers.",
                "config");
        }
    }

    /// <summary>
    /// Checks the config, naming fields as the file it was read from spells them (e.g. <c>num_attention_heads</c> in a
    /// Hugging Face <c>config.json</c>), so an error never sends a user looking for a property they did not write.
    /// </summary>
    /// <param name="subject">How the offending field is named at the start of the message.</param>
    /// <param name="field">How another field is named inside a rule.</param>
    /// <param name="error">Builds the exception from the message and the property name.</param>
    internal TransformerConfig Validate(Func<string, string> subject, Func<string, string> field, Func<string, string, Exception> error)
    {
        void Require(bool ok, string name, object value, string rule)
        {
            if (!ok)
                throw error($"{subject(name)} = {value} is invalid: {rule}.", name);
        }

        Require(VocabSize is > 0 and <= MaxVocabSize, nameof(VocabSize), VocabSize, $"must be between 1 and {MaxVocabSize} (2^24)");
        Require(ModelDim is > 0 and <= MaxModelDim, nameof(ModelDim), ModelDim, $"must be between 1 and {MaxModelDim}");
        Require(Heads > 0 && ModelDim % Heads == 0, nameof(Heads), Heads, $"must be positive and divide {field(nameof(ModelDim))} ({ModelDim})");
        Require(FeedForwardDim is > 0 and <= MaxFeedForwardDim, nameof(FeedForwardDim), FeedForwardDim, $"must be between 1 and {MaxFeedForwardDim} (2^20)");
        Require(EncoderLayers is >= 0 and <= MaxLayers, nameof(EncoderLayers), EncoderLayers, $"must be between 0 and {MaxLayers}");
        Require(DecoderLayers is >= 0 and <= MaxLayers, nameof(DecoderLayers), DecoderLayers, $"must be between 0 and {MaxLayers}");
        Require(Dropout is >= 0 and < 1, nameof(Dropout), Dropout, "must be in [0, 1)");
        Require(LayerNormEps > 0, nameof(LayerNormEps), LayerNormEps, "must be positive");
        Require(MaxPositions is > 0 and <= MaxMaxPositions, nameof(MaxPositions), MaxPositions, $"must be between 1 and {MaxMaxPositions} (2^20)");
        Require(TypeVocabSize is >= 0 and <= MaxTypeVocabSize, nameof(TypeVocabSize), TypeVocabSize, $"must be between 0 and {MaxTypeVocabSize}");
        Require(PadTokenId >= 0 && PadTokenId < VocabSize, nameof(PadTokenId), PadTokenId, $"must be a token id below {field(nameof(VocabSize))} ({VocabSize})");
        return this;
    }
}
