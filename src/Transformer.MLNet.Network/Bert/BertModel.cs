using TorchSharp;
using TorchSharp.Utils;
using Transformer.MLNet.Network.Configuration;
using Transformer.MLNet.Network.Modules;
using static TorchSharp.torch;
using Transformer.MLNet.Network.Kernels;

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
        config.CheckFitsInMemory(config.EncoderLayers);
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

    /// <summary>
    /// <see cref="forward"/>, with the padding left out of the layers where <see cref="ForwardUnpadded"/> applies (inference
    /// on the CPU, a batch with padding, every row's real tokens first): the real tokens' states are the same, the padding's
    /// are zeros instead of values nothing should read.
    /// </summary>
    internal Tensor ForwardSkippingPadding(Tensor inputIds, Tensor attentionMask, Tensor tokenTypeIds)
    {
        if (!training && !is_grad_enabled() && UnpaddedOverride != false && attentionMask.dim() == 2
            && attentionMask.device_type == DeviceType.CPU && PrefixLengths(attentionMask) is { } lengths
            && lengths.Sum() < attentionMask.numel() && ForwardUnpadded(inputIds, lengths, tokenTypeIds) is { } unpadded)
            return unpadded;
        return forward(inputIds, attentionMask, tokenTypeIds);
    }

    // Each row's count of real tokens where they all come first (then only padding); null otherwise.
    private static int[]? PrefixLengths(Tensor attentionMask)
    {
        using var mask = attentionMask.to(ScalarType.Int64).contiguous();
        var values = mask.data<long>().ToArray();
        int rows = (int)mask.shape[0], width = (int)mask.shape[1];
        var lengths = new int[rows];
        for (int r = 0; r < rows; r++)
        {
            var row = values.AsSpan(r * width, width);
            int length = row.IndexOfAnyExcept(1L);
            length = length < 0 ? width : length;
            if (row[length..].ContainsAnyExcept(0L))
                return null;
            lengths[r] = length;
        }

        return lengths;
    }

    /// <summary>Test hook: false turns <see cref="ForwardUnpadded"/> off (it returns null); null decides by the usual rules.</summary>
    internal static bool? UnpaddedOverride { get; set; }

    /// <summary>
    /// <see cref="forward"/> for inference on right-padded rows with the padding left out: the real tokens of all rows go
    /// through the layers as one sequence, attention staying within each row (<see cref="PackedAttention.ForwardSegments"/>),
    /// and come back as (B, T, D) with zeros at the padding. The real tokens' states are those of <see cref="forward"/>.
    /// Null where this path does not apply: training, gradients recorded, another device, or rows the attention kernel
    /// does not take; the caller then uses <see cref="forward"/>.
    /// </summary>
    /// <param name="inputIds">(B, T) token ids.</param>
    /// <param name="lengths">Each row's real tokens, which come first in the row (1 to T).</param>
    /// <param name="tokenTypeIds">(B, T).</param>
    internal Tensor? ForwardUnpadded(Tensor inputIds, int[] lengths, Tensor tokenTypeIds)
    {
        if (UnpaddedOverride == false)
            return null;
        ArgumentNullException.ThrowIfNull(inputIds);
        ArgumentNullException.ThrowIfNull(lengths);
        ArgumentNullException.ThrowIfNull(tokenTypeIds);
        if (training || is_grad_enabled() || inputIds.dim() != 2 || inputIds.device_type != DeviceType.CPU || lengths.Length != inputIds.shape[0])
            return null;
        long rows = inputIds.shape[0], width = inputIds.shape[1];
        if (lengths.Any(l => l < 1 || l > width) || !PackedAttention.TakesSegments(_embeddings.WordEmbeddingType, Config.ModelDim, Config.Heads, lengths.Max()))
            return null;

        using var scope = NewDisposeScope();
        var positions = new long[lengths.Sum()];
        var starts = new int[rows + 1];
        for (int r = 0, n = 0; r < rows; r++)
        {
            starts[r] = n;
            for (int t = 0; t < lengths[r]; t++)
                positions[n++] = r * width + t;
            starts[r + 1] = n;
        }

        var index = tensor(positions);
        var embedded = _embeddings.forward(inputIds, tokenTypeIds);                              // (B, T, D)
        var tokens = embedded.reshape(rows * width, -1).index_select(0, index).unsqueeze(0);   // (1, N, D)
        var hidden = _encoder.forward(tokens, tensor(starts)).squeeze(0);                      // (N, D)
        var padded = zeros([rows * width, hidden.shape[1]], hidden.dtype).index_copy_(0, index, hidden);
        return padded.reshape(rows, width, -1).MoveToOuterDisposeScope();
    }

    /// <summary>BERT's pooler output, <c>tanh(W h[CLS] + b)</c>, the input of BERT's classification heads.</summary>
    /// <param name="lastHiddenState">(B, T, D) from <see cref="forward"/>.</param>
    /// <returns>(B, D).</returns>
    public Tensor Pool(Tensor lastHiddenState) => _pooler.forward(lastHiddenState);
}
