using System.Diagnostics;
using System.Globalization;
using Transformer.MLNet.Examples.Common;
using Transformer.MLNet.Examples.Data;
using Transformer.MLNet.Network.Embeddings;
using Transformer.MLNet.Network.Evaluation;
using Transformer.MLNet.Network.Pretrained;
using Transformer.MLNet.Network.Runtime;

// Semantic similarity with the pretrained all-MiniLM-L6-v2 encoder, offline: embed both sentences of every STS-B
// test pair, score each pair by cosine similarity, and compare with the human ratings.
// Writes two pictures to artifacts/pictures: model similarity against the human rating, and the similarity matrix
// of a few sentences.
// With --export-onnx FOLDER it also writes the encoder as an ONNX export there, for examples/OnnxEmbeddings, and with
// --int8 FOLDER2 an int8-weight copy of that export too.
// Usage: dotnet run -c Release --project examples/Embeddings [-- --bf16] [--export-onnx FOLDER [--int8 FOLDER2]]
TorchRuntime.EnsureLoaded();
bool bf16 = args.Contains("--bf16");
int exportAt = Array.IndexOf(args, "--export-onnx");
string? exportFolder = exportAt >= 0 && exportAt + 1 < args.Length ? args[exportAt + 1] : null;
int int8At = Array.IndexOf(args, "--int8");
string? int8Folder = int8At >= 0 && int8At + 1 < args.Length ? args[int8At + 1] : null;
if ((exportAt >= 0 && exportFolder is null) || (int8At >= 0 && (int8Folder is null || exportFolder is null)))
{
    Console.Error.WriteLine("--export-onnx needs a folder, and --int8 a second one: --export-onnx artifacts/onnx/minilm --int8 artifacts/onnx/minilm-int8");
    return 2;
}

var pairs = StsBenchmark.Read("test");
var sentences = pairs.SelectMany(p => new[] { p.Sentence1, p.Sentence2 }).ToList();

using var bert = PretrainedBert.LoadMiniLm();
using var encoder = SentenceEncoder.FromPretrained(bert, new SentenceEncoderOptions { UseBFloat16 = bf16 });
Console.WriteLine($"model: {bert.Config.Name}, {bert.Config.EncoderLayers} layers, {encoder.Dimension}-dimensional embeddings, {(bf16 ? "bfloat16" : "float32")}");

var clock = Stopwatch.StartNew();
float[][] embeddings = encoder.Encode(sentences);
double seconds = clock.Elapsed.TotalSeconds;

var predicted = pairs.Select((_, i) => EmbeddingSimilarity.Cosine(embeddings[2 * i], embeddings[2 * i + 1])).ToList();
var gold = pairs.Select(p => p.Score).ToList();

Console.WriteLine("most and least similar pairs by the model (gold rating 0-5 in brackets):");
foreach (int i in Enumerable.Range(0, pairs.Count).OrderByDescending(i => predicted[i]).Take(2)
             .Concat(Enumerable.Range(0, pairs.Count).OrderBy(i => predicted[i]).Take(2)))
{
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"  {predicted[i]:F3} [{pairs[i].Score:F1}]  \"{pairs[i].Sentence1}\" ~ \"{pairs[i].Sentence2}\""));
}

Console.WriteLine(Charts.SaveScatter(Charts.PicturePath("embeddings-stsb.png"), "STS-B test: MiniLM cosine vs human rating",
    "human rating (0-5)", "cosine similarity", gold, predicted));
// Six short sentences from three closely related pairs: the matrix should show three bright 2x2 blocks.
int[] chosen = [.. Enumerable.Range(0, pairs.Count)
    .Where(i => pairs[i].Score >= 4.6 && pairs[i].Sentence1.Length <= 40 && pairs[i].Sentence2.Length <= 40).Take(3)];
int[] rows = [.. chosen.SelectMany(i => new[] { 2 * i, 2 * i + 1 })];
var matrix = new double[rows.Length, rows.Length];
for (int a = 0; a < rows.Length; a++)
    for (int b = 0; b < rows.Length; b++)
        matrix[a, b] = EmbeddingSimilarity.Cosine(embeddings[rows[a]], embeddings[rows[b]]);
string[] labels = [.. rows.Select(r => sentences[r])];
Console.WriteLine(Charts.SaveHeatmap(Charts.PicturePath("embeddings-similarity.png"), "MiniLM embeddings: cosine similarity", matrix, labels, labels));

if (exportFolder is not null)
{
    // Always the float32 encoder: the export is read by ONNX Runtime, whatever precision ran here.
    using var float32 = SentenceEncoder.FromPretrained(bert, new SentenceEncoderOptions());
    var manifest = float32.ExportOnnx(exportFolder);
    Console.WriteLine($"exported {manifest.Task} to {Path.GetFullPath(exportFolder)} (opset {manifest.Opset})");
    if (int8Folder is not null)
    {
        var quantized = Transformer.MLNet.Network.Export.OnnxInt8Quantizer.Quantize(exportFolder, int8Folder);
        Console.WriteLine($"quantized ({quantized.WeightQuantization}) to {Path.GetFullPath(int8Folder)}");
    }
}

// Nothing is trained here: no updates.
string cpu = ProcessCpu.SummaryPairs(0, TimeSpan.FromSeconds(seconds));
Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
    $"spearman={Correlation.Spearman(predicted, gold):F4} pearson={Correlation.Pearson(predicted, gold):F4} sentences_per_second={sentences.Count / seconds:F1} {cpu}"));
return 0;
