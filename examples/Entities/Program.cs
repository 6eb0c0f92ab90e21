using System.Diagnostics;
using System.Globalization;
using Microsoft.ML;
using Transformer.MLNet.Examples.Common;
using Transformer.MLNet.Examples.Data;
using Transformer.MLNet.Network.Metrics;
using Transformer.MLNet.Network.Runtime;
using Transformer.MLNet.Network.Training;
using Transformer.MLNet.Persistence;
using Transformer.MLNet.TokenClassification;

// Universal NER v1, English Web Treebank (PER, ORG, LOC). The official train file is not available, so the model
// trains on the dev file and is evaluated on the test file. Against it: the classic baseline that gives each word its
// most frequent training tag. Arguments: "--minutes M" training budget (default 18), "--epochs N" (default 6),
// "--lr R" peak learning rate (default 1e-4), "--bf16" to train in bfloat16 with float32 master weights (faster on CPUs
// with bfloat16 units) instead of float32.
TorchRuntime.EnsureLoaded();
CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;

double minutes = ExampleArguments.Number(args, "--minutes", 18);
int epochs = (int)ExampleArguments.Number(args, "--epochs", 6);
double learningRate = ExampleArguments.Number(args, "--lr", 1e-4);
var precision = args.Contains("--bf16") ? TrainingPrecision.BFloat16 : TrainingPrecision.Float32;
var train = UniversalNer.ReadEnglishEwt("dev");
var test = UniversalNer.ReadEnglishEwt("test");
Console.WriteLine($"UNER English-EWT from {DataDirectory.Root}: train (dev file) {train.Count} sentences, " +
    $"{train.Sum(s => EntitySpans(s.Tags))} entities; test {test.Count} sentences, {test.Sum(s => EntitySpans(s.Tags))} entities");

var mlContext = new MLContext(seed: 0);
var trainData = mlContext.Data.LoadFromEnumerable(train.Select(NerRow.From));
var testData = mlContext.Data.LoadFromEnumerable(test.Select(NerRow.From));

// The baseline: each word (as written) gets its most frequent training tag; unseen words are O.
var frequent = train.SelectMany(s => s.Words.Zip(s.Tags)).GroupBy(p => p.First, StringComparer.Ordinal)
    .ToDictionary(g => g.Key, g => g.GroupBy(p => p.Second).OrderByDescending(t => t.Count()).ThenBy(t => t.Key, StringComparer.Ordinal).First().Key, StringComparer.Ordinal);
var baseline = EntityScores.FromIob2(
    [.. test.Select(s => s.Tags)],
    [.. test.Select(s => (IReadOnlyList<string>)[.. s.Words.Select(w => frequent.GetValueOrDefault(w, "O"))])]);

// The token classifier: fine-tuned MiniLM-L6, trained on the words of each sentence.
var log = new TrainingLog();
var options = new TokenClassifierOptions
{
    TextColumnName = nameof(NerRow.Words), LabelColumnName = "Label",
    Epochs = epochs, BatchSize = 16, LearningRate = learningRate, MaxTokens = 128, Precision = precision,
    TimeBudget = TimeSpan.FromMinutes(minutes), Progress = log,
};
var pipeline = mlContext.Transforms.Conversion.MapValueToKey("Label", nameof(NerRow.Tags))
    .Append(mlContext.MulticlassClassification.Trainers.TokenClassifier(options));
var clock = Stopwatch.StartNew();
var cpuBefore = ProcessCpu.Now();
var model = pipeline.Fit(trainData);
var trainTime = clock.Elapsed;
var cpu = ProcessCpu.Now() - cpuBefore;
long updates = log.Reports.Count > 0 ? log.Reports[^1].Step : 0;
Console.WriteLine($"Trained in {trainTime.TotalMinutes:F1} min ({precision}, learning rate {learningRate}): {cpu.Describe(updates, trainTime)}");

clock.Restart();
var scored = model.Transform(testData);
var scores = mlContext.MulticlassClassification.EvaluateEntities(scored);
Console.WriteLine($"Tagged and scored the test file in {clock.Elapsed.TotalSeconds:F1} s");

Console.WriteLine("\n| type | test entities | baseline P | R | F1 | fine-tuned P | R | F1 |");
Console.WriteLine("|---|---:|---:|---:|---:|---:|---:|---:|");
foreach (var type in scores.PerType.Keys.Union(baseline.PerType.Keys).Order(StringComparer.Ordinal))
    Row(type, scores.PerType.GetValueOrDefault(type), baseline.PerType.GetValueOrDefault(type));
Row("micro", scores.Micro, baseline.Micro);

// A few test sentences from their raw text: the words are cut from the text, and offsets point into it.
var tagger = model.LastTransformer;
string[] samples = [.. test.Where(s => EntitySpans(s.Tags) >= 2).Take(5).Select(s => s.Text), "Maria Fernández flew from São Paulo to Seattle to meet Microsoft's CEO."];
Console.WriteLine();
foreach (var (text, entities) in samples.Zip(tagger.FindEntities(samples)))
{
    Console.WriteLine($"  {text}");
    foreach (var e in entities)
        Console.WriteLine($"    {e.Type,-3} [{e.Start},{e.End}) \"{e.Text}\" {e.Score:F2}{(text[e.Start..e.End] == e.Text ? "" : "  OFFSET MISMATCH")}");
}

// Save, reload in a fresh MLContext, check the predictions are identical, and tag through a PredictionEngine.
string path = Path.Combine(Path.GetTempPath(), "entities-uner-ewt.zip");
mlContext.Model.SavePipeline(model, trainData.Schema, path);
var fresh = new MLContext(seed: 1);
var reloaded = fresh.Model.LoadPipeline(path, out _);
var before = mlContext.Data.CreateEnumerable<EntityPrediction>(scored, reuseRowObject: false).Select(p => string.Join(";", p.GetEntities())).ToList();
var after = fresh.Data.CreateEnumerable<EntityPrediction>(reloaded.Transform(testData), reuseRowObject: false).Select(p => string.Join(";", p.GetEntities())).ToList();
Console.WriteLine($"\nSaved {new FileInfo(path).Length / 1e6:F1} MB; reloaded predictions identical on the test file: {before.SequenceEqual(after)}");
var engine = fresh.Model.CreatePredictionEngine<NerRow, EntityPrediction>(reloaded);
var one = engine.Predict(NerRow.From(test[0]));
Console.WriteLine($"PredictionEngine on \"{test[0].Text}\": {string.Join(", ", one.GetEntities().Select(e => $"{e.Type} \"{e.Text}\""))}");

Console.WriteLine(FormattableString.Invariant(
    $"entity_f1={scores.Micro.F1:F4} baseline_f1={baseline.Micro.F1:F4} train_minutes={trainTime.TotalMinutes:F1}"));

static int EntitySpans(IReadOnlyList<string> tags) => tags.Count(t => t.StartsWith("B-", StringComparison.Ordinal));

static void Row(string type, EntityCounts? tuned, EntityCounts? classic) => Console.WriteLine(
    $"| {type} | {tuned?.Gold ?? classic?.Gold ?? 0} | {classic?.Precision ?? 0:F3} | {classic?.Recall ?? 0:F3} | {classic?.F1 ?? 0:F3} | " +
    $"{tuned?.Precision ?? 0:F3} | {tuned?.Recall ?? 0:F3} | {tuned?.F1 ?? 0:F3} |");

/// <summary>One sentence: its words and their IOB2 tags.</summary>
internal sealed class NerRow
{
    public string[] Words { get; set; } = [];

    public string[] Tags { get; set; } = [];

    public static NerRow From(NerSentence s) => new() { Words = [.. s.Words], Tags = [.. s.Tags] };
}
