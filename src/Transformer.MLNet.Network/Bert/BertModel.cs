using TorchSharp;
using TorchSharp.Utils;
using Transformer.MLNet.Network.Configuration;
using Transformer.MLNet.Network.Modules;
using static TorchSharp.torch;

namespace Transformer.MLNet.Network.Bert;

/// <summary>
/// A BERT-style encoder whose <c>state_dict</c> names are exactly Hugging Face's <c>BertModel</c> names
/// (<c>embeddings.*</c>, <c>encoder.layer.{i}.*</c>, <c>pooler.dense.*</c>), so checkpoints load by name.
/// </summary>
public sealed class BertModel : nn.Module<Tensor, Tensor, Tensor, Tensor>
{
    [ComponentName(Name = "embeddings")]
    private readonly BertEmbeddings _embeddings;

    [ComponentName(Name = "encoder")]
    private readonly BertEncoder _encoder;

    [ComponentName(Name = "pooler")]
    private readonly BertPooler _pooler;

    /// <summary>Creates a randomly initialised model from <paramref name="config"/>.</summary>
    /// <param name="config">The architecture; validated. BERT needs learned positions and at least one token type.</param>
    /// <exception cref="ArgumentException">The config is invalid or not BERT-shaped.</exception>
    public BertModel(TransformerConfig config) : base(nameof(BertModel))
    {
        ArgumentNullException.ThrowIfNull(config);
        Config = config.Validate();
        if (config.PositionalEncoding != PositionalEncodingKind.Learned)
        {
            throw new ArgumentException(
                $"TransformerConfig.PositionalEncoding = {config.PositionalEncoding} is invalid for BertModel: BERT learns " +
                "its positions; use PositionalEncodingKind.Learned (e.g. start from TransformerConfig.MiniLmL6).", nameof(config));
        }

        if (config.PreLayerNorm)
        {
            throw new ArgumentException(
                "TransformerConfig.PreLayerNorm = true is invalid for BertModel: BERT normalises after each residual sum.",
                nameof(config));
        }

        _embeddings = new BertEmbeddings(config);
        _encoder = new BertEncoder(config);
        _pooler = new BertPooler(config);
        RegisterComponents();
    }

    /// <summary>
    /// The names and shapes of the parameters a model built from <paramref name="config"/> has, computed without
    /// allocating it, so that a loader can compare a checkpoint's header with a config before building the model.
    /// </summary>
    /// <param name="config">A validated BERT config.</param>
    internal static Dictionary<string, long[]> ParameterShapes(TransformerConfig config)
    {
        long h = config.ModelDim, f = config.FeedForwardDim;
        var shapes = new Dictionary<string, long[]>(StringComparer.Ordinal)
        {
            ["embeddings.word_embeddings.weight"] = [config.VocabSize, h],
            ["embeddings.position_embeddings.weight"] = [config.MaxPositions, h],
            ["embeddings.token_type_embeddings.weight"] = [Math.Max(1, config.TypeVocabSize), h],
            ["embeddings.LayerNorm.weight"] = [h],
            ["embeddings.LayerNorm.bias"] = [h],
            ["pooler.dense.weight"] = [h, h],
            ["pooler.dense.bias"] = [h],
        };
        for (int i = 0; i < config.EncoderLayers; i++)
        {
            string layer = $"encoder.layer.{i}.";
            foreach (string projection in new[] { "attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense" })
            {
                shapes[layer + projection + ".weight"] = [h, h];
                shapes[layer + projection + ".bias"] = [h];
            }

            shapes[layer + "attention.output.LayerNorm.weight"] = [h];
            shapes[layer + "attention.output.LayerNorm.bias"] = [h];
            shapes[layer + "intermediate.dense.weight"] = [f, h];
            shapes[layer + "intermediate.dense.bias"] = [f];
            shapes[layer + "output.dense.weight"] = [h, f];
            shapes[layer + "output.dense.bias"] = [h];
            shapes[layer + "output.LayerNorm.weight"] = [h];
            shapes[layer + "output.LayerNorm.bias"] = [h];
        }

        return shapes;
    }

    /// <summary>The architecture this model was built from.</summary>
    public TransformerConfig Config { get; }

    /// <summary>Encodes a batch.</summary>
    /// <param name="inputIds">(B, T) int64 token ids.</param>
    /// <param name="attentionMask">(B, T) 1 for real tokens, 0 for padding (any integer, bool or float type).</param>
    /// <param name="tokenTypeIds">(B, T) int64 segment ids (zeros for single sentences).</param>
    /// <returns>last_hidden_state, (B, T, D).</returns>
    public override Tensor forward(Tensor inputIds, Tensor attentionMask, Tensor tokenTypeIds)
    {
        ArgumentNullException.ThrowIfNull(inputIds);
        ArgumentNullException.ThrowIfNull(attentionMask);
        ArgumentNullException.ThrowIfNull(tokenTypeIds);
        if (inputIds.dim() != 2 || !attentionMask.shape.SequenceEqual(inputIds.shape) || !tokenTypeIds.shape.SequenceEqual(inputIds.shape))
        {
            throw new ArgumentException(
                $"BertModel expects inputIds, attentionMask and tokenTypeIds of one shape (batch, tokens); got " +
                $"[{string.Join(", ", inputIds.shape)}], [{string.Join(", ", attentionMask.shape)}] and " +
                $"[{string.Join(", ", tokenTypeIds.shape)}].");
        }

        using var scope = NewDisposeScope();
        // One key mask per batch, shared by every layer: (B, T) -> (B, 1, 1, T), true for real tokens.
        var keyMask = ScaledDotProductAttention.KeyMask(attentionMask.eq(0));
        var embedded = _embeddings.forward(inputIds, tokenTypeIds);     // (B, T, D)
        return _encoder.forward(embedded, keyMask).MoveToOuterDisposeScope();
    }

    /// <summary>BERT's pooler output, <c>tanh(W h[CLS] + b)</c>, the input of BERT's classification heads.</summary>
    /// <param name="lastHiddenState">(B, T, D) from <see cref="forward"/>.</param>
    /// <returns>(B, D).</returns>
    public Tensor Pool(Tensor lastHiddenState) => _pooler.forward(lastHiddenState);
}
