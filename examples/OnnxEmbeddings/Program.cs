using System.Diagnostics;
using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.Data;
using Transformer.MLNet.Examples.Data;
using Transformer.MLNet.Network.Evaluation;
using Transformer.MLNet.Onnx;

// Semantic similarity on ONNX Runtime, with no TorchSharp in the application: the all-MiniLM-L6-v2 encoder exported
// by Transformer.MLNet runs through mlContext.Transforms.Text.ApplyOnnxExport; both sentences of every STS-B test pair
// are embedded, each pair is scored by cosine similarity and compared with the human ratings.
// Usage: dotnet run -c Release --project examples/OnnxEmbeddings [-- EXPORT_FOLDER]
// The export folder (default artifacts/onnx/minilm) is written by the TorchSharp example:
//   dotnet run -c Release --project examples/Embeddings -- --export-onnx artifacts/onnx/minilm
string folder = args.FirstOrDefault(a => !a.StartsWith("--", StringComparison.Ordinal)) ?? Path.Combine("artifacts", "onnx", "minilm");
if (!File.Exists(Path.Combine(folder, "onnx_export.json")))
{
    Console.Error.WriteLine($"No ONNX export in '{Path.GetFullPath(folder)}'. Write one first with:");
    Console.Error.WriteLine($"  dotnet run -c Release --project examples/Embeddings -- --export-onnx {folder}");
    return 2;
}

var pairs = StsBenchmark.Read("test");
var sentences = pairs.SelectMany(p => new[] { p.Sentence1, p.Sentence2 }).Select(s => new Sentence { Text = s }).ToList();
var mlContext = new MLContext(seed: 0);
var data = mlContext.Data.LoadFromEnumerable(sentences);
using var embedder = mlContext.Transforms.Text.ApplyOnnxExport(folder, nameof(Sentence.Text), outputColumnName: "Features").Fit(data);
Console.WriteLine($"model: {embedder.Task} from {Path.GetFullPath(folder)}");

var clock = Stopwatch.StartNew();
var embeddings = embedder.Transform(data).GetColumn<float[]>("Features").ToList();
double seconds = clock.Elapsed.TotalSeconds;

var predicted = pairs.Select((_, i) => Cosine(embeddings[2 * i], embeddings[2 * i + 1])).ToList();
var gold = pairs.Select(p => p.Score).ToList();
// The pairs the model and the raters disagree on most (cosine rescaled to the 0-5 scale of the ratings).
foreach (int i in Enumerable.Range(0, pairs.Count).OrderByDescending(i => Math.Abs(5 * Math.Max(predicted[i], 0) - gold[i])).Take(3))
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  model {5 * predicted[i]:F1} vs raters {gold[i]:F1}: \"{pairs[i].Sentence1}\" ~ \"{pairs[i].Sentence2}\""));

// What the application carries: no libtorch or TorchSharp file anywhere beside it.
int torchFiles = Directory.GetFiles(AppContext.BaseDirectory, "*", SearchOption.AllDirectories)
    .Count(f => Path.GetFileName(f).Contains("torch", StringComparison.OrdinalIgnoreCase));
Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
    $"spearman={Correlation.Spearman(predicted, gold):F4} pearson={Correlation.Pearson(predicted, gold):F4} sentences_per_second={sentences.Count / seconds:F1} torch_files={torchFiles}"));
return 0;

static double Cosine(float[] a, float[] b)
{
    double dot = 0, na = 0, nb = 0;
    for (int i = 0; i < a.Length; i++)
    {
        dot += a[i] * b[i];
        na += a[i] * a[i];
        nb += b[i] * b[i];
    }

    return dot / Math.Sqrt(na * nb);
}

internal sealed class Sentence
{
    public string Text { get; set; } = "";
}
