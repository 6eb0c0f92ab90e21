using System.Diagnostics;
using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.Data;
using Sentiment;
using Transformer.MLNet.Classification;
using Transformer.MLNet.Embeddings;
using Transformer.MLNet.Examples.Common;
using Transformer.MLNet.Examples.Data;
using Transformer.MLNet.Network.Runtime;
using Transformer.MLNet.Network.Training;
using Transformer.MLNet.Persistence;

// UCI yelp sentiment (1000 sentences), the ML.NET tutorial's 80/20 split with seeds 0, 1, 2:
// (1) ML.NET's FeaturizeText + SDCA, (2) our frozen MiniLM embeddings + SDCA, (3) our fine-tuned MiniLM classifier.
TorchRuntime.EnsureLoaded();
CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;

var rows = SentimentRow.Read("yelp");
Console.WriteLine($"UCI yelp: {rows.Count} sentences ({rows.Count(r => r.Label)} positive) from {DataDirectory.Root}");

// Arguments: optional seeds to run (default 0 1 2); "--threads N" caps TorchSharp's threads (helps on a shared, busy
// machine, where more threads than free cores spin and slow each other down); "--bf16" fine-tunes in bfloat16 with
// float32 master weights (faster only where the CPU has bfloat16 instructions, see CpuFeatures.HasNativeBFloat16).
int threadsAt = Array.IndexOf(args, "--threads");
if (threadsAt >= 0)
{
    TorchSharp.torch.set_num_threads(int.Parse(args[threadsAt + 1], CultureInfo.InvariantCulture));
    args = args.Where((_, i) => i != threadsAt && i != threadsAt + 1).ToArray();
}

bool bfloat16 = args.Contains("--bf16");
args = args.Where(a => a != "--bf16").ToArray();
int[] seeds = args.Length > 0 ? args.Select(a => int.Parse(a, CultureInfo.InvariantCulture)).ToArray() : [0, 1, 2];
var results = new List<Result>();
ITransformer? fineTuned = null;
DataViewSchema? inputSchema = null;
IDataView? lastTest = null;
var curves = new List<Series>();
long fineTuningUpdates = 0;

foreach (int seed in seeds)
{
    var mlContext = new MLContext(seed);
    var data = mlContext.Data.LoadFromEnumerable(rows);
    var split = mlContext.Data.TrainTestSplit(data, testFraction: 0.2, seed: seed);
    Console.WriteLine($"\n== seed {seed}: {split.TrainSet.GetRowCount() ?? Count(split.TrainSet)} train / {Count(split.TestSet)} test");

    var classic = mlContext.Transforms.Text.FeaturizeText("Features", nameof(SentimentRow.Text))
        .Append(mlContext.BinaryClassification.Trainers.SdcaLogisticRegression());
    results.Add(Run("classic FeaturizeText + SDCA", seed, classic, split, mlContext, out _));

    // SDCA reads its data many times: cache the embeddings so each sentence is encoded once.
    var frozen = mlContext.Transforms.Text.ApplySentenceEmbedding("Features", nameof(SentimentRow.Text))
        .AppendCacheCheckpoint(mlContext)
        .Append(mlContext.BinaryClassification.Trainers.SdcaLogisticRegression());
    results.Add(Run("frozen MiniLM embeddings + SDCA", seed, frozen, split, mlContext, out _));

    var progressBar = new ConsoleProgressBar();
    var options = new TextClassifierOptions
    {
        TextColumnName = nameof(SentimentRow.Text),
        Epochs = 4,
        BatchSize = 16,
        LearningRate = 1e-4,
        MaxTokens = 64,
        Precision = bfloat16 ? TrainingPrecision.BFloat16 : TrainingPrecision.Float32,
        Progress = progressBar,
    };
    var tuned = mlContext.BinaryClassification.Trainers.TextClassifier(options);
    results.Add(Run("fine-tuned MiniLM classifier", seed, tuned, split, mlContext, out var model));
    fineTuningUpdates += progressBar.Reports.Count > 0 ? progressBar.Reports[^1].Step : 0;
    curves.Add(new Series($"seed {seed}", [.. progressBar.Reports.Select(r => (double)r.Step)], [.. progressBar.Reports.Select(r => r.TrainLoss)]));
    (fineTuned as IDisposable)?.Dispose();
    fineTuned = model;
    inputSchema = split.TrainSet.Schema;
    lastTest = split.TestSet;
}

Console.WriteLine("\n| model | seed | accuracy | AUC | F1 | training time |");
Console.WriteLine("|---|---:|---:|---:|---:|---:|");
foreach (var r in results)
    Console.WriteLine($"| {r.Name} | {r.Seed} | {r.Accuracy:F4} | {r.Auc:F4} | {r.F1:F4} | {r.Seconds:F1} s |");
Console.WriteLine("\n| model | mean accuracy (min–max) | mean AUC | mean F1 | mean training time |");
Console.WriteLine("|---|---:|---:|---:|---:|");
foreach (var group in results.GroupBy(r => r.Name))
{
    Console.WriteLine(
        $"| {group.Key} | {group.Average(r => r.Accuracy):F4} ({group.Min(r => r.Accuracy):F4}–{group.Max(r => r.Accuracy):F4}) | " +
        $"{group.Average(r => r.Auc):F4} | {group.Average(r => r.F1):F4} | {group.Average(r => r.Seconds):F1} s |");
}

// Pictures: the fine-tuning loss of every seed, and the mean accuracy of the three pipelines.
Console.WriteLine();
Console.WriteLine(Charts.SaveLines(Charts.PicturePath("sentiment-fine-tuning.png"), "Fine-tuning MiniLM on yelp (loss: mean over the epoch so far)",
    "update", "cross-entropy", [.. curves]));
var means = results.GroupBy(r => r.Name).Select(g => (Name: g.Key, Accuracy: g.Average(r => r.Accuracy))).ToList();
Console.WriteLine(Charts.SaveBars(Charts.PicturePath("sentiment-accuracy.png"), $"UCI yelp test accuracy (mean of {seeds.Length} seeds)",
    "accuracy", [.. means.Select(m => m.Name)], [.. means.Select(m => m.Accuracy)]));

// Save the last fine-tuned pipeline, reload it in a fresh MLContext, check it predicts the same, and use it.
string modelPath = Path.Combine(Path.GetTempPath(), "sentiment-classifier.zip");
new MLContext().Model.SavePipeline(fineTuned!, inputSchema!, modelPath);
var fresh = new MLContext(seed: 7);
var reloaded = fresh.Model.LoadPipeline(modelPath, out _);
float[] before = Scores(fineTuned!.Transform(lastTest!));
float[] after = Scores(reloaded.Transform(lastTest!));
Console.WriteLine($"\nSaved {new FileInfo(modelPath).Length / 1e6:F1} MB to {modelPath}; reloaded predictions identical on the test set: {before.SequenceEqual(after)}");

var engine = fresh.Model.CreatePredictionEngine<SentimentRow, SentimentPrediction>(reloaded);
foreach (string text in new[] { "The food was delicious and the staff were lovely.", "Cold fries, rude waiter, never again.", "I would definitely come back here again." })
{
    var p = engine.Predict(new SentimentRow { Text = text });
    Console.WriteLine($"  {(p.PredictedLabel ? "positive" : "negative"),-8} p={p.Probability:F3}  \"{text}\"");
}

double Mean(string name) => results.Where(r => r.Name == name).Average(r => r.Accuracy);
Console.WriteLine(
    $"fine_tuned_accuracy={Mean("fine-tuned MiniLM classifier"):F4} frozen_accuracy={Mean("frozen MiniLM embeddings + SDCA"):F4} " +
    $"classic_accuracy={Mean("classic FeaturizeText + SDCA"):F4} " +
    // Updates and their rate are the fine-tuning's (all seeds); CPU time is the whole process's.
    ProcessCpu.SummaryPairs(fineTuningUpdates, TimeSpan.FromSeconds(results.Where(r => r.Name == "fine-tuned MiniLM classifier").Sum(r => r.Seconds))));

static Result Run<T>(string name, int seed, IEstimator<T> pipeline, DataOperationsCatalog.TrainTestData split, MLContext mlContext, out ITransformer model)
    where T : class, ITransformer
{
    Console.WriteLine($"  {name} ...");
    var clock = Stopwatch.StartNew();
    model = pipeline.Fit(split.TrainSet);
    double seconds = clock.Elapsed.TotalSeconds;
    var metrics = mlContext.BinaryClassification.Evaluate(model.Transform(split.TestSet));
    Console.WriteLine($"    accuracy {metrics.Accuracy:F4}  AUC {metrics.AreaUnderRocCurve:F4}  F1 {metrics.F1Score:F4}  ({seconds:F1} s)");
    return new Result(name, seed, metrics.Accuracy, metrics.AreaUnderRocCurve, metrics.F1Score, seconds);
}

static long Count(IDataView view)
{
    long n = 0;
    using var cursor = view.GetRowCursor([]);
    while (cursor.MoveNext())
        n++;
    return n;
}

static float[] Scores(IDataView scored) => scored.GetColumn<float>("Score").ToArray();

internal sealed record Result(string Name, int Seed, double Accuracy, double Auc, double F1, double Seconds);
