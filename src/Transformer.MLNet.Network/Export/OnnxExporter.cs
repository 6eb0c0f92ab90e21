using System.Reflection;
using Google.Protobuf;
using Transformer.MLNet.Network.Classification;
using Transformer.MLNet.Network.Embeddings;
using Transformer.MLNet.Network.IO;
using Transformer.MLNet.Network.TokenClassification;
using Transformer.MLNet.Network.Tokenization;
using static TorchSharp.torch;

namespace Transformer.MLNet.Network.Export;

/// <summary>
/// Writes an export folder: <c>model.onnx</c> (the graph of <see cref="BertOnnxGraph"/> with the model's float32
/// weights), <c>vocab.txt</c> and <c>onnx_export.json</c> (<see cref="OnnxExportManifest"/>).
/// </summary>
internal static class OnnxExporter
{
    private static readonly string Version =
        typeof(OnnxExporter).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0";

    public static OnnxExportManifest Export(string folder, Bert.BertModel model, BertTextTokenizer tokenizer, SentenceEncoderOptions options)
    {
        using var noGrad = no_grad();
        var graph = new BertOnnxGraph(Parameters(model), string.Empty, model.Config);
        graph.OutputHidden();
        var pooled = graph.Pool(options.Pooling);
        if (options.Normalize)
            pooled = graph.Normalize(pooled);
        graph.Output(pooled, BertOnnxGraph.SentenceEmbedding, "batch", Dim(model.Config.ModelDim));
        return Write(folder, graph, tokenizer, new OnnxExportManifest
        {
            Task = OnnxExportTask.SentenceEmbedding,
            TokenizationRules = tokenizer.Rules,
            MaxTokens = options.MaxTokens,
            Pooling = options.Pooling.ToString(),
            Normalize = options.Normalize,
            OutputSize = model.Config.ModelDim,
            Inputs = [BertOnnxGraph.InputIds, BertOnnxGraph.AttentionMask, BertOnnxGraph.TokenTypeIds],
            Outputs = [BertOnnxGraph.LastHiddenState, BertOnnxGraph.SentenceEmbedding],
        });
    }

    public static OnnxExportManifest Export(string folder, SequenceClassifier model, BertTextTokenizer tokenizer, TextClassifierSettings settings, IReadOnlyList<string>? classNames = null)
    {
        using var noGrad = no_grad();
        var graph = new BertOnnxGraph(Parameters(model), "bert.", model.EncoderConfig);
        var logits = graph.Linear(graph.Pool(Pooling.Mean), "classifier");              // (B, C), as SequenceClassifier
        graph.Output(logits, BertOnnxGraph.Logits, "batch", Dim(settings.ClassCount));
        List<string> outputs = [BertOnnxGraph.Logits];
        if (settings.Regression)
        {
            var w = graph.Writer;
            var flat = w.Node("Squeeze", [logits, w.Int64s(1)]);                            // (B)
            var score = w.Node("Add", [w.Node("Mul", [flat, w.Float((float)settings.TargetScale)]), w.Float((float)settings.TargetMean)]);
            graph.Output(score, BertOnnxGraph.Score, "batch");
            outputs.Add(BertOnnxGraph.Score);
        }

        return Write(folder, graph, tokenizer, new OnnxExportManifest
        {
            Task = settings.Regression ? OnnxExportTask.TextRegression : OnnxExportTask.TextClassification,
            TokenizationRules = tokenizer.Rules,
            MaxTokens = settings.MaxTokens,
            Pairs = settings.Pairs,
            OutputSize = settings.ClassCount,
            Labels = classNames is null ? null : [.. classNames],
            TargetMean = settings.TargetMean,
            TargetScale = settings.TargetScale,
            Inputs = [BertOnnxGraph.InputIds, BertOnnxGraph.AttentionMask, BertOnnxGraph.TokenTypeIds],
            Outputs = outputs,
        });
    }

    public static OnnxExportManifest Export(string folder, TokenClassifierModel model, BertTextTokenizer tokenizer, TokenClassifierSettings settings)
    {
        using var noGrad = no_grad();
        var graph = new BertOnnxGraph(Parameters(model), "bert.", model.EncoderConfig, withCasing: true);
        var w = graph.Writer;
        var hidden = w.Node("Add", [graph.Hidden, graph.Embedding(BertOnnxGraph.CasingIds, "casing_embeddings.weight")]);
        var logits = graph.Linear(hidden, "classifier");                                     // (B, T, L), as TokenClassifierModel
        graph.Output(logits, BertOnnxGraph.Logits, "batch", "sequence", Dim(settings.Labels.Count));
        return Write(folder, graph, tokenizer, new OnnxExportManifest
        {
            Task = OnnxExportTask.TokenClassification,
            TokenizationRules = tokenizer.Rules,
            MaxTokens = settings.MaxTokens,
            OutputSize = settings.Labels.Count,
            Labels = [.. settings.Labels],
            Inputs = [BertOnnxGraph.InputIds, BertOnnxGraph.AttentionMask, BertOnnxGraph.TokenTypeIds, BertOnnxGraph.CasingIds],
            Outputs = [BertOnnxGraph.Logits],
        });
    }

    private static string Dim(int size) => size.ToString(System.Globalization.CultureInfo.InvariantCulture);

    private static Dictionary<string, TorchSharp.Modules.Parameter> Parameters(TorchSharp.torch.nn.Module module) =>
        module.named_parameters().ToDictionary(p => p.name, p => p.parameter);

    private static OnnxExportManifest Write(string folder, BertOnnxGraph graph, BertTextTokenizer tokenizer, OnnxExportManifest manifest)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(folder);
        manifest = manifest with { Opset = OnnxGraphWriter.Opset };
        var model = graph.Writer.ToModel(Version, new Dictionary<string, string>
        {
            ["task"] = manifest.Task.ToString(),
            ["max_tokens"] = Dim(manifest.MaxTokens),
        });
        Pretrained.OutputFolder.Create(folder);
        AtomicFile.Write(Path.Combine(folder, OnnxExportManifest.ModelFileName), stream => model.WriteTo(stream));
        tokenizer.SaveVocabulary(Path.Combine(folder, OnnxExportManifest.VocabularyFileName));
        AtomicFile.WriteAllText(Path.Combine(folder, OnnxExportManifest.FileName), manifest.ToJson());
        return manifest;
    }
}
