using TorchSharp;
using TorchSharp.Utils;
using Transformer.MLNet.Network.Configuration;
using Transformer.MLNet.Network.Modules;
using static TorchSharp.torch;

namespace Transformer.MLNet.Network.Models;

/// <summary>
/// A GPT-style language model: embeddings, decoder layers without cross-attention, and a generator (tied to the
/// embeddings when the config says so). Predicts token t + 1 from tokens ≤ t.
/// </summary>
public sealed class DecoderOnlyModel : nn.Module<Tensor, Tensor>
{
    [ComponentName(Name = "embeddings")]
    private readonly TokenEmbedding embeddings;

    [ComponentName(Name = "decoder")]
    private readonly DecoderStack decoder;

    [ComponentName(Name = "generator")]
    private readonly GeneratorHead generator;

    /// <summary>Builds a freshly initialised model with <see cref="TransformerConfig.DecoderLayers"/> layers.</summary>
    /// <param name="config">Sizes; needs at least one decoder layer.</param>
    /// <exception cref="ArgumentException">The config is invalid.</exception>
    public DecoderOnlyModel(TransformerConfig config) : base(nameof(DecoderOnlyModel))
    {
        Config = config.Validate();
        config.CheckFitsInMemory(config.DecoderLayers);
        if (config.DecoderLayers == 0)
            throw new ArgumentException("A decoder-only model needs DecoderLayers of at least 1; got 0.", nameof(config));
        embeddings = new TokenEmbedding(config);
        decoder = new DecoderStack(config, withCrossAttention: false);
        generator = config.TieEmbeddings ? new GeneratorHead(embeddings) : new GeneratorHead(config.ModelDim, config.VocabSize);
        RegisterComponents();
    }

    /// <summary>The config the model was built from.</summary>
    public TransformerConfig Config { get; }

    /// <summary>The decoder stack.</summary>
    public DecoderStack Decoder => decoder;

    /// <summary>An empty cache for incremental decoding with this model.</summary>
    public KeyValueCache NewCache() => new(Config.DecoderLayers);

    /// <summary>Next-token scores for every position.</summary>
    /// <param name="tokens">(B, T) int64 token ids.</param>
    /// <returns>logits: (B, T, V).</returns>
    public override Tensor forward(Tensor tokens) => forward(tokens, null);

    /// <summary>Next-token scores, continuing the sequence held in <paramref name="cache"/>.</summary>
    /// <param name="tokens">(B, T) int64 ids of the positions after the cached ones (all of them when the cache is empty or null).</param>
    /// <param name="cache">Keys and values of earlier positions (from <see cref="NewCache"/>, updated in place), or null.</param>
    /// <returns>logits: (B, T, V).</returns>
    public Tensor forward(Tensor tokens, KeyValueCache? cache)
    {
        using var embedded = embeddings.call(tokens, cache?.Length ?? 0);   // (B, T) -> (B, T, D)
        using var hidden = decoder.forward(embedded, null, null, cache);
        return generator.call(hidden);                                       // (B, T, D) -> (B, T, V)
    }
}
