using Onnx;
using Transformer.MLNet.Network.Configuration;
using Transformer.MLNet.Network.Embeddings;
using static TorchSharp.torch;
using static Transformer.MLNet.Network.Export.OnnxGraphWriter;

namespace Transformer.MLNet.Network.Export;

/// <summary>
/// Writes our BERT encoder (<see cref="Bert.BertModel"/>: post-LN layers, learned positions, erf GELU) and its task
/// heads as an ONNX graph whose inputs are named as in Hugging Face's ONNX exports (<c>input_ids</c>,
/// <c>attention_mask</c>, <c>token_type_ids</c>, int64, shape [batch, sequence]). Linear weights are stored as
/// <c>MatMul</c> initializers in [in, out] layout under anonymous names, and every bias, LayerNorm and embedding under
/// its Hugging Face name, so that <see cref="Pretrained.OnnxBertWeights"/> reads an exported encoder back.
/// </summary>
internal sealed class BertOnnxGraph
{
    public const string InputIds = OnnxExportNames.InputIds;
    public const string AttentionMask = OnnxExportNames.AttentionMask;
    public const string TokenTypeIds = OnnxExportNames.TokenTypeIds;
    public const string CasingIds = OnnxExportNames.CasingIds;
    public const string LastHiddenState = OnnxExportNames.LastHiddenState;
    public const string SentenceEmbedding = OnnxExportNames.SentenceEmbedding;
    public const string Logits = OnnxExportNames.Logits;
    public const string Score = OnnxExportNames.Score;

    private const string Batch = "batch";
    private const string Sequence = "sequence";

    private readonly OnnxGraphWriter _writer = new();
    private readonly IReadOnlyDictionary<string, TorchSharp.Modules.Parameter> _parameters;
    private readonly string _prefix;
    private int _anonymous;

    /// <param name="parameters">The module's named parameters.</param>
    /// <param name="prefix">The encoder's prefix in <paramref name="parameters"/> ("" or "bert.").</param>
    /// <param name="config">The encoder's configuration.</param>
    /// <param name="withCasing">Declare the <c>casing_ids</c> input of the token classifier.</param>
    public BertOnnxGraph(IReadOnlyDictionary<string, TorchSharp.Modules.Parameter> parameters, string prefix, TransformerConfig config, bool withCasing = false)
    {
        _parameters = parameters;
        _prefix = prefix;
        Config = config;
        if (config.PreLayerNorm || config.PositionalEncoding != PositionalEncodingKind.Learned)
            throw new NotSupportedException("Only BERT-style encoders (post-LN, learned positions) export to ONNX.");
        if (config.Activation is not (Activation.Gelu or Activation.Relu))
            throw new NotSupportedException($"Activation {config.Activation} does not export to ONNX.");
        _writer.Int64Input(InputIds, Batch, Sequence);
        _writer.Int64Input(AttentionMask, Batch, Sequence);
        _writer.Int64Input(TokenTypeIds, Batch, Sequence);
        if (withCasing)
            _writer.Int64Input(CasingIds, Batch, Sequence);
        MaskFloat = _writer.Node("Cast", [AttentionMask], Int("to", (long)TensorProto.Types.DataType.Float));   // (B, T)
        Hidden = Encoder();
    }

    public TransformerConfig Config { get; }

    /// <summary>The encoder's last hidden state, (B, T, D).</summary>
    public string Hidden { get; }

    /// <summary>The attention mask as float32, (B, T).</summary>
    public string MaskFloat { get; }

    public OnnxGraphWriter Writer => _writer;

    /// <summary>Declares <paramref name="value"/> as an output.</summary>
    public void Output(string value, string name, params string[] dims) => _writer.Output(value, name, dims);

    public void OutputHidden() => Output(Hidden, LastHiddenState, Batch, Sequence, Config.ModelDim.ToString(System.Globalization.CultureInfo.InvariantCulture));

    /// <summary>One vector per sequence, as <see cref="SentenceEncoder"/> pools (mean over real tokens, [CLS] or max).</summary>
    public string Pool(Pooling pooling)
    {
        switch (pooling)
        {
            case Pooling.Cls:
                return _writer.Node("Gather", [Hidden, _writer.Int64Scalar(0)], Int("axis", 1));                 // (B, D)
            case Pooling.Max:
                var keep = _writer.Node("Cast", [AttentionMask], Int("to", (long)TensorProto.Types.DataType.Bool));
                var keep3 = _writer.Node("Unsqueeze", [keep, _writer.Int64s(2)]);                              // (B, T, 1)
                var masked = _writer.Node("Where", [keep3, Hidden, _writer.Float(float.NegativeInfinity)]);
                return _writer.Node("ReduceMax", [masked], Ints("axes", 1), Int("keepdims", 0));               // (B, D)
            default:
                // TokenPooling.Mean: sum of real tokens over their count (at least 1).
                var mask3 = _writer.Node("Unsqueeze", [MaskFloat, _writer.Int64s(2)]);                         // (B, T, 1)
                var summed = _writer.Node("ReduceSum", [_writer.Node("Mul", [Hidden, mask3]), _writer.Int64s(1)], Int("keepdims", 0));
                var counts = _writer.Node("ReduceSum", [mask3, _writer.Int64s(1)], Int("keepdims", 0));         // (B, 1)
                return _writer.Node("Div", [summed, _writer.Node("Max", [counts, _writer.Float(1f)])]);         // (B, D)
        }
    }

    /// <summary>x / max(‖x‖₂, 1e-12) along the last axis, as <c>torch.nn.functional.normalize</c>.</summary>
    public string Normalize(string pooled)
    {
        var norm = _writer.Node("ReduceL2", [pooled], Ints("axes", -1), Int("keepdims", 1));
        return _writer.Node("Div", [pooled, _writer.Node("Max", [norm, _writer.Float(1e-12f)])]);
    }

    /// <summary>A linear layer y = x Wᵀ + b of the module, by its parameter name without ".weight".</summary>
    public string Linear(string input, string name)
    {
        var weight = Parameter(name + ".weight");
        string stored;
        using (var scope = NewDisposeScope())
            stored = _writer.Weight($"onnx::MatMul_{_anonymous++}", weight.t());     // (in, out), as PyTorch's exporter stores it
        var product = _writer.Node("MatMul", [input, stored]);
        return _writer.Node("Add", [product, _writer.Weight(name + ".bias", Parameter(name + ".bias"))]);
    }

    /// <summary>Adds an embedding of the module (by parameter name) looked up at <paramref name="ids"/>.</summary>
    public string Embedding(string ids, string name) => _writer.Node("Gather", [_writer.Weight(name, Parameter(name)), ids]);

    public TorchSharp.Modules.Parameter Parameter(string name) =>
        _parameters.TryGetValue(name, out var parameter) ? parameter
            : throw new InvalidOperationException($"The model has no parameter '{name}' to export.");

    private string Encoder()
    {
        // Embeddings: word + token type + position (0 .. T-1), then LayerNorm (BertEmbeddings).
        var length = _writer.Node("Gather", [_writer.Node("Shape", [InputIds]), _writer.Int64Scalar(1)]);   // scalar T
        var positions = _writer.Node("Range", [_writer.Int64Scalar(0), length, _writer.Int64Scalar(1)]);   // (T)
        var sum = _writer.Node("Add", [
            _writer.Node("Add", [Embedding(InputIds, $"{_prefix}embeddings.word_embeddings.weight"),
                                 Embedding(TokenTypeIds, $"{_prefix}embeddings.token_type_embeddings.weight")]),
            Embedding(positions, $"{_prefix}embeddings.position_embeddings.weight")]);
        var hidden = LayerNorm(sum, $"{_prefix}embeddings.LayerNorm");

        // Additive key mask, (B, 1, 1, T): 0 for real tokens, -1e9 for padding (exp underflows to exactly 0, as the
        // boolean mask of ScaledDotProductAttention gives).
        var padding = _writer.Node("Sub", [_writer.Float(1f), MaskFloat]);
        var bias = _writer.Node("Unsqueeze", [_writer.Node("Mul", [padding, _writer.Float(-1e9f)]), _writer.Int64s(1, 2)]);

        for (int i = 0; i < Config.EncoderLayers; i++)
            hidden = Layer(hidden, bias, $"{_prefix}encoder.layer.{i}.");
        return hidden;
    }

    private string Layer(string hidden, string bias, string name)
    {
        int heads = Config.Heads, headDim = Config.ModelDim / Config.Heads;
        var split = _writer.Int64s(0, 0, heads, headDim);                                            // (B, T, h, d)
        string Heads(string x, params long[] perm) => _writer.Node("Transpose", [_writer.Node("Reshape", [x, split])], Ints("perm", perm));
        var q = Heads(Linear(hidden, name + "attention.self.query"), 0, 2, 1, 3);                   // (B, h, T, d)
        var kT = Heads(Linear(hidden, name + "attention.self.key"), 0, 2, 3, 1);                    // (B, h, d, T)
        var v = Heads(Linear(hidden, name + "attention.self.value"), 0, 2, 1, 3);                   // (B, h, T, d)
        var scores = _writer.Node("Mul", [_writer.Node("MatMul", [q, kT]), _writer.Float((float)(1 / Math.Sqrt(headDim)))]);
        var weights = _writer.Node("Softmax", [_writer.Node("Add", [scores, bias])], Int("axis", -1));   // (B, h, T, T)
        var context = _writer.Node("Transpose", [_writer.Node("MatMul", [weights, v])], Ints("perm", 0, 2, 1, 3));
        var merged = _writer.Node("Reshape", [context, _writer.Int64s(0, 0, Config.ModelDim)]);    // (B, T, D)
        var attended = LayerNorm(_writer.Node("Add", [Linear(merged, name + "attention.output.dense"), hidden]), name + "attention.output.LayerNorm");

        var inner = Linear(attended, name + "intermediate.dense");                                   // (B, T, F)
        var activated = Config.Activation == Activation.Relu ? _writer.Node("Relu", [inner]) : Gelu(inner);
        return LayerNorm(_writer.Node("Add", [Linear(activated, name + "output.dense"), attended]), name + "output.LayerNorm");
    }

    // The exact GELU: x · ½ · (1 + erf(x / √2)).
    private string Gelu(string x)
    {
        var erf = _writer.Node("Erf", [_writer.Node("Div", [x, _writer.Float((float)Math.Sqrt(2))])]);
        return _writer.Node("Mul", [_writer.Node("Mul", [x, _writer.Node("Add", [erf, _writer.Float(1f)])]), _writer.Float(0.5f)]);
    }

    private string LayerNorm(string x, string name) =>
        _writer.Node("LayerNormalization",
            [x, _writer.Weight(name + ".weight", Parameter(name + ".weight")), _writer.Weight(name + ".bias", Parameter(name + ".bias"))],
            Int("axis", -1), FloatAttribute("epsilon", (float)Config.LayerNormEps));
}
