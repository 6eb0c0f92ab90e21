using System.Text.Json;
using System.Text.Json.Serialization;
using Transformer.MLNet.Network.Tokenization;

namespace Transformer.MLNet.Network.Export;

/// <summary>What an exported model computes, which decides its outputs and how to read them.</summary>
public enum OnnxExportTask
{
    /// <summary>A sentence encoder: <c>last_hidden_state</c> (B, T, D) and the pooled <c>sentence_embedding</c> (B, D).</summary>
    SentenceEmbedding,

    /// <summary>A text (or text-pair) classifier: <c>logits</c> (B, classes).</summary>
    TextClassification,

    /// <summary>A regression head, e.g. a cross-encoder: <c>logits</c> (B, 1) standardised and <c>score</c> (B) in the targets' units.</summary>
    TextRegression,

    /// <summary>A token classifier: <c>logits</c> (B, T, labels); it also reads <c>casing_ids</c>.</summary>
    TokenClassification,
}

/// <summary>
/// The settings written beside an exported <c>model.onnx</c> as <c>onnx_export.json</c>: everything needed to
/// tokenize inputs as the model was trained and to read its outputs, with no TorchSharp.
/// </summary>
public sealed record OnnxExportManifest
{
    /// <summary>The file name of the ONNX model in an export folder.</summary>
    public const string ModelFileName = "model.onnx";

    /// <summary>The file name of this manifest in an export folder.</summary>
    public const string FileName = "onnx_export.json";

    /// <summary>The file name of the WordPiece vocabulary in an export folder.</summary>
    public const string VocabularyFileName = "vocab.txt";

    private static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        Converters = { new JsonStringEnumConverter() },
    };

    /// <summary>What the model computes.</summary>
    public required OnnxExportTask Task { get; init; }

    /// <summary>The default-domain opset of the graph.</summary>
    public int Opset { get; init; }

    /// <summary>The tokenization rules the model was trained with.</summary>
    public BertTokenizationRules TokenizationRules { get; init; }

    /// <summary>Tokens per input including [CLS] and [SEP]; longer inputs are cut, as the TorchSharp model cuts them.</summary>
    public int MaxTokens { get; init; }

    /// <summary>Whether the model reads text pairs (<c>[CLS] a [SEP] b [SEP]</c> with token types 0 and 1).</summary>
    public bool Pairs { get; init; }

    /// <summary>Sentence embeddings: how token vectors are pooled ("Mean", "Cls" or "Max").</summary>
    public string? Pooling { get; init; }

    /// <summary>Sentence embeddings: whether the pooled vector has unit length.</summary>
    public bool Normalize { get; init; }

    /// <summary>The size of the main output's last axis: the embedding dimension, the class count, 1, or the label count.</summary>
    public int OutputSize { get; init; }

    /// <summary>
    /// Token classification: the IOB2 tags, in the order of the logits. Text classification: the class names in the
    /// order of the logits for a multiclass model exported from ML.NET; null for a binary classifier (label true when
    /// the second logit is the larger) and for a classifier exported from the network library without names.
    /// </summary>
    public IReadOnlyList<string>? Labels { get; init; }

    /// <summary>
    /// Text classification exported from ML.NET with a label whose key values are not text (numbers or Booleans): their
    /// type name ("Single", "Double", "Int32", "Boolean", ...); null for text key values and other tasks.
    /// </summary>
    public string? LabelType { get; init; }

    /// <summary>
    /// With <see cref="LabelType"/>: the key values in the order of <see cref="Labels"/>, as text that reads back
    /// exactly (floating-point values bit for bit), so that <c>MapKeyToValue</c> on the predicted label gives values of
    /// the label's own type.
    /// </summary>
    public IReadOnlyList<string>? LabelValues { get; init; }

    /// <summary>Regression: <c>score = logits · TargetScale + TargetMean</c>.</summary>
    public double TargetMean { get; init; }

    /// <summary>Regression: see <see cref="TargetMean"/>.</summary>
    public double TargetScale { get; init; } = 1;

    /// <summary>
    /// Null for float32 weights; <c>"Int8Dynamic"</c> when the weight matrices are int8 with per-column scales and
    /// activations are quantized at run time (<c>OnnxInt8Quantizer</c> in the network library).
    /// </summary>
    public string? WeightQuantization { get; init; }

    /// <summary>The graph's inputs, in order.</summary>
    public IReadOnlyList<string> Inputs { get; init; } = [];

    /// <summary>The graph's outputs, in order.</summary>
    public IReadOnlyList<string> Outputs { get; init; } = [];

    /// <summary>The manifest as JSON.</summary>
    public string ToJson() => JsonSerializer.Serialize(this, Json);

    /// <summary>Reads a manifest written by an export.</summary>
    /// <exception cref="InvalidDataException">The text is not a manifest.</exception>
    public static OnnxExportManifest FromJson(string json)
    {
        try
        {
            var manifest = JsonSerializer.Deserialize<OnnxExportManifest>(json, Json)
                ?? throw new InvalidDataException($"{FileName} is empty.");
            if (manifest.MaxTokens < 2 || manifest.OutputSize < 1)
                throw new InvalidDataException($"{FileName} has max_tokens {manifest.MaxTokens} and output_size {manifest.OutputSize}; both must be positive (max_tokens at least 2).");
            if ((manifest.LabelType is null) != (manifest.LabelValues is null) || (manifest.LabelValues is not null && manifest.LabelValues.Count != (manifest.Labels?.Count ?? -1)))
            {
                throw new InvalidDataException(
                    $"{FileName} has label_type {manifest.LabelType ?? "null"} with {manifest.LabelValues?.Count.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "no"} " +
                    $"label_values for {manifest.Labels?.Count.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "no"} labels; " +
                    "typed labels need both, one value per label. Export the model again.");
            }

            return manifest;
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{FileName} is not a valid export manifest: {e.Message}", e);
        }
    }
}
