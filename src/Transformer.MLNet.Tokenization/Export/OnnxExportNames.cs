namespace Transformer.MLNet.Network.Export;

/// <summary>
/// The input and output names of the exported graphs (inputs as Hugging Face's ONNX exports name them): written by the
/// network library's exporter, read by the ONNX Runtime components.
/// </summary>
internal static class OnnxExportNames
{
    public const string InputIds = "input_ids";
    public const string AttentionMask = "attention_mask";
    public const string TokenTypeIds = "token_type_ids";
    public const string CasingIds = "casing_ids";
    public const string LastHiddenState = "last_hidden_state";
    public const string SentenceEmbedding = "sentence_embedding";
    public const string Logits = "logits";
    public const string Score = "score";

    /// <summary>The output that carries a task's result: the pooled embedding, the regression score, or the logits.</summary>
    public static string MainOutput(OnnxExportTask task) => task switch
    {
        OnnxExportTask.SentenceEmbedding => SentenceEmbedding,
        OnnxExportTask.TextRegression => Score,
        _ => Logits,
    };
}
