using TorchSharp;
using TorchSharp.Utils;
using Transformer.MLNet.Network.Configuration;
using Transformer.MLNet.Network.Modules;
using static TorchSharp.torch;

namespace Transformer.MLNet.Network.Models;

/// <summary>
/// The Transformer of "Attention Is All You Need" (figure 1): embeddings, an encoder stack, a decoder stack and a
/// generator. <see cref="Encode"/> and <see cref="Decode"/> are separate so that decoding can run step by step
/// against one encoded source, reusing a <see cref="KeyValueCache"/>.
/// </summary>
/// <remarks>
/// Padding masks are (B, S) boolean tensors, true at padding positions (<see cref="PaddingMask"/> builds one from
/// token ids). Target sequences are right-padded: causal attention keeps padding from reaching earlier positions,
/// and the loss ignores it.
/// <para>Greedy decoding with the cache, one scope per step:</para>
/// <code>
/// using var noGrad = torch.no_grad();
/// var padding = model.PaddingMask(source);                  // (B, S)
/// var memory = model.Encode(source, padding);               // (B, S, D)
/// using var cache = model.NewCache();
/// var next = torch.full(batch, 1, bosId, ScalarType.Int64); // (B, 1)
/// for (int step = 0; step &lt; maxLength; step++)
/// {
///     using var scope = torch.NewDisposeScope();
///     var logits = model.Project(model.Decode(next, memory, padding, cache));   // (B, 1, V)
///     next = logits.argmax(-1).MoveToOuterDisposeScope();                      // (B, 1)
/// }
/// </code>
/// </remarks>
public sealed class EncoderDecoderModel : nn.Module
{
    [ComponentName(Name = "source_embeddings")]
    private readonly TokenEmbedding sourceEmbeddings;

    [ComponentName(Name = "target_embeddings")]
    private readonly TokenEmbedding? targetEmbeddings;

    [ComponentName(Name = "encoder")]
    private readonly EncoderStack encoder;

    [ComponentName(Name = "decoder")]
    private readonly DecoderStack decoder;

    [ComponentName(Name = "generator")]
    private readonly GeneratorHead generator;

    /// <summary>Builds a freshly initialised model (seed TorchSharp first for repeatable weights).</summary>
    /// <param name="config">Sizes; needs at least one encoder and one decoder layer.</param>
    /// <exception cref="ArgumentException">The config is invalid.</exception>
    public EncoderDecoderModel(TransformerConfig config) : base(nameof(EncoderDecoderModel))
    {
        Config = config.Validate();
        config.CheckFitsInMemory(config.EncoderLayers + config.DecoderLayers);
        if (config.EncoderLayers == 0 || config.DecoderLayers == 0)
            throw new ArgumentException(
                $"An encoder-decoder model needs EncoderLayers and DecoderLayers of at least 1; got {config.EncoderLayers} and {config.DecoderLayers}.", nameof(config));
        sourceEmbeddings = new TokenEmbedding(config);
        if (!config.ShareEncoderDecoderEmbeddings)
            targetEmbeddings = new TokenEmbedding(config);
        encoder = new EncoderStack(config);
        decoder = new DecoderStack(config);
        generator = config.TieEmbeddings ? new GeneratorHead(TargetEmbeddings) : new GeneratorHead(config.ModelDim, config.VocabSize);
        RegisterComponents();
    }

    /// <summary>The config the model was built from.</summary>
    public TransformerConfig Config { get; }

    /// <summary>The encoder stack.</summary>
    public EncoderStack Encoder => encoder;

    /// <summary>The decoder stack.</summary>
    public DecoderStack Decoder => decoder;

    private TokenEmbedding TargetEmbeddings => targetEmbeddings ?? sourceEmbeddings;

    /// <summary>True at padding positions.</summary>
    /// <param name="tokens">(B, T) int64 ids.</param>
    /// <returns>(B, T) boolean.</returns>
    public Tensor PaddingMask(Tensor tokens) => tokens.eq(Config.PadTokenId);

    /// <summary>An empty cache for incremental decoding with this model.</summary>
    public KeyValueCache NewCache() => new(Config.DecoderLayers);

    /// <summary>Encodes source sequences.</summary>
    /// <param name="source">(B, S) int64 token ids.</param>
    /// <param name="sourcePadding">(B, S) boolean, true at padding, or null when nothing is padded.</param>
    /// <returns>memory: (B, S, D).</returns>
    public Tensor Encode(Tensor source, Tensor? sourcePadding = null)
    {
        CheckPadding(source, sourcePadding, nameof(sourcePadding));
        using var mask = sourcePadding is null ? null : ScaledDotProductAttention.KeyMask(sourcePadding);
        using var embedded = sourceEmbeddings.call(source, 0);          // (B, S) -> (B, S, D)
        return encoder.forward(embedded, mask);
    }

    /// <summary>Decodes target positions against an encoded source.</summary>
    /// <param name="target">
    /// (B, T) int64 token ids: the whole shifted-right target, or with a <paramref name="cache"/> only the tokens
    /// that follow the cached positions (usually one).
    /// </param>
    /// <param name="memory">(B, S, D) from <see cref="Encode"/>.</param>
    /// <param name="sourcePadding">(B, S) boolean, true at source padding, or null.</param>
    /// <param name="cache">Keys and values of earlier steps (from <see cref="NewCache"/>, updated in place), or null.</param>
    /// <param name="crossAttentionWeights">
    /// When not null (and without <paramref name="cache"/>), receives each decoder layer's attention weights over the
    /// source, (B, h, T, S), first layer first; the caller disposes them.
    /// </param>
    /// <returns>hidden: (B, T, D); <see cref="Project"/> turns it into logits.</returns>
    public Tensor Decode(Tensor target, Tensor memory, Tensor? sourcePadding = null, KeyValueCache? cache = null, IList<Tensor>? crossAttentionWeights = null)
    {
        if (memory.dim() != 3 || memory.shape[0] != target.shape[0] || memory.shape[2] != Config.ModelDim)
            throw new ArgumentException(
                $"memory must be (batch = {target.shape[0]}, source length, {Config.ModelDim}) from Encode; got [{string.Join(", ", memory.shape)}].", nameof(memory));
        if (sourcePadding is not null && (sourcePadding.dim() != 2 || sourcePadding.shape[1] != memory.shape[1]))
            throw new ArgumentException(
                $"sourcePadding must be (batch, {memory.shape[1]}) to match memory; got [{string.Join(", ", sourcePadding.shape)}].", nameof(sourcePadding));
        using var mask = sourcePadding is null ? null : ScaledDotProductAttention.KeyMask(sourcePadding);
        using var embedded = TargetEmbeddings.call(target, cache?.Length ?? 0);   // (B, T) -> (B, T, D)
        return decoder.forward(embedded, memory, mask, cache, crossAttentionWeights);
    }

    /// <summary>The generator: decoder output to vocabulary scores.</summary>
    /// <param name="hidden">(B, T, D).</param>
    /// <returns>logits: (B, T, V).</returns>
    public Tensor Project(Tensor hidden) => generator.call(hidden);

    /// <summary>Teacher-forced training pass: encode, decode and project.</summary>
    /// <param name="source">(B, S) int64 token ids.</param>
    /// <param name="target">(B, T) int64 shifted-right target ids.</param>
    /// <param name="sourcePadding">(B, S) boolean, true at padding, or null.</param>
    /// <returns>logits: (B, T, V).</returns>
    public Tensor forward(Tensor source, Tensor target, Tensor? sourcePadding = null)
    {
        using var memory = Encode(source, sourcePadding);
        using var hidden = Decode(target, memory, sourcePadding);
        return Project(hidden);
    }

    private static void CheckPadding(Tensor tokens, Tensor? padding, string name)
    {
        if (padding is not null && !padding.shape.SequenceEqual(tokens.shape))
            throw new ArgumentException(
                $"{name} must have the shape of the token ids [{string.Join(", ", tokens.shape)}]; got [{string.Join(", ", padding.shape)}].", name);
    }
}
