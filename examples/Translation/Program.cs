using System.Diagnostics;
using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.Data;
using Transformer.MLNet.Examples.Common;
using Transformer.MLNet.Examples.Data;
using Transformer.MLNet.Network.Configuration;
using Transformer.MLNet.Network.Generation;
using Transformer.MLNet.Network.Metrics;
using Transformer.MLNet.Network.Runtime;
using Transformer.MLNet.Persistence;
using Transformer.MLNet.Translation;

// Spanish → English on the Tatoeba pairs of manythings.org (118,964 pairs). A seeded 2% of the distinct Spanish
// sentences is held out with all their English translations as references; a Transformer encoder-decoder is trained
// from scratch with mlContext.Transforms.Text.TrainTranslator, then scored with sacreBLEU-compatible BLEU and chrF.
// Writes the training curves and a cross-attention heatmap as PNG (artifacts/pictures) and saves the fitted pipeline
// (artifacts/models/translation-es-en.zip, which notebook 04 picks up).
// Arguments: [--minutes M] training budget (default 26; the learning rate decays to zero over it), [--epochs E] at most
// (default 10), [--quick] small run.
TorchRuntime.EnsureLoaded();
CultureInfo.CurrentCulture = CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;

bool quick = args.Contains("--quick");
double minutes = ExampleArguments.Number(args, "--minutes", quick ? 2 : 26);
int epochs = (int)ExampleArguments.Number(args, "--epochs", quick ? 1 : 10);

var pairs = TatoebaSpanishEnglish.Load();
var split = TranslationSplit.BySource(pairs, testFraction: 0.02, seed: 2018);
var train = quick ? split.Train.Take(20_000).ToList() : split.Train.ToList();
var test = quick ? split.Test.Take(300).ToList() : split.Test.ToList();
Console.WriteLine($"Tatoeba spa-eng: {pairs.Count} pairs; train {train.Count} pairs, held out {test.Count} Spanish sentences " +
                  $"with {test.Sum(t => t.References.Count)} English references");

// About 10M parameters: 3 + 3 pre-LN layers, d_model 256, 4 heads, d_ff 1024, one shared embedding/output matrix.
var progress = new TrainingLog();
var options = new TranslationOptions
{
    SourceColumnName = nameof(TranslationPair.Source),
    TargetColumnName = nameof(TranslationPair.Target),
    Architecture = TransformerConfig.Base with
    {
        Name = "Tatoeba", ModelDim = 256, Heads = 4, FeedForwardDim = 1024, EncoderLayers = 3, DecoderLayers = 3,
        Dropout = 0.1, MaxPositions = 64, PreLayerNorm = true,
    },
    MinTokenCount = 2,
    Epochs = epochs,
    BatchSize = 64,
    LearningRate = 1e-3,
    WarmupSteps = 400,
    LabelSmoothing = 0.1,
    ValidationFraction = 0.01,
    Patience = 0,
    TimeBudget = TimeSpan.FromMinutes(minutes),
    Decoding = new GenerationOptions { MaxNewTokens = 48, BatchSize = 64 },
    Progress = progress,
};

var mlContext = new MLContext(seed: 1);
var trainData = mlContext.Data.LoadFromEnumerable(train);
var clock = Stopwatch.StartNew();
var cpuBefore = ProcessCpu.Now();
var model = mlContext.Transforms.Text.TrainTranslator(options).Fit(trainData);
var trainTime = clock.Elapsed;
double trainMinutes = trainTime.TotalMinutes;
// The last report comes from the final validation, so it holds the number of updates done.
long updates = progress.Reports.Count > 0 ? progress.Reports[^1].Step : 0;
Console.WriteLine($"trained in {trainMinutes:F1} min: {model.ParameterCount:N0} parameters, vocabulary {model.Architecture.VocabSize:N0} tokens");
Console.WriteLine($"fit (tokenizer, training, validation): {(ProcessCpu.Now() - cpuBefore).Describe(updates, trainTime)}");

string[] sources = [.. test.Select(t => t.Source)];
IReadOnlyList<string>[] references = [.. test.Select(t => t.References)];

clock.Restart();
var testData = mlContext.Data.LoadFromEnumerable(sources.Select(s => new TranslationPair(s, "")));
string[] greedy = [.. model.Transform(testData).GetColumn<string>(options.OutputColumnName)];
Console.WriteLine($"greedy decoding through the pipeline: {clock.Elapsed.TotalSeconds:F0} s");
clock.Restart();
string[] beam = model.Translate(sources, options.Decoding with { Strategy = DecodingStrategy.BeamSearch, BeamWidth = 4, LengthPenalty = 0.6, BatchSize = 32 });
Console.WriteLine($"beam search (width 4): {clock.Elapsed.TotalSeconds:F0} s");

var bleu = new CorpusBleu();
var chrf = new CorpusChrf();
var greedyBleu = bleu.Score(greedy, references);
var beamBleu = bleu.Score(beam, references);
double greedyChrf = chrf.Score(greedy, references), beamChrf = chrf.Score(beam, references);
Console.WriteLine($"greedy: {greedyBleu}  chrF2 = {greedyChrf:F2}");
Console.WriteLine($"beam 4: {beamBleu}  chrF2 = {beamChrf:F2}");
Console.WriteLine("\nsamples (source | greedy | beam | first reference):");
foreach (int i in Enumerable.Range(0, 12).Select(k => k * test.Count / 12))
    Console.WriteLine($"  {sources[i]} | {greedy[i]} | {beam[i]} | {references[i][0]}");

// Pictures: the loss curves, and which Spanish tokens each English token looked at (last decoder layer, heads averaged).
Console.WriteLine("\n" + progress.SaveCurves(Charts.PicturePath("translation-training.png"), "Spanish → English on Tatoeba", "cross-entropy (nats/token)",
    "training loss (label-smoothed, mean since last report)", "validation loss"));
const string shown = "Mañana voy a comprar un libro para mi hermana.";
string shownTranslation = model.Translate([shown], options.Decoding with { Strategy = DecodingStrategy.BeamSearch, BeamWidth = 4, LengthPenalty = 0.6 })[0];
Console.WriteLine($"{shown} → {shownTranslation}");
var map = model.CrossAttention(shown, shownTranslation);
Console.WriteLine(Charts.SaveHeatmap(Charts.PicturePath("translation-cross-attention.png"), "Cross-attention, last decoder layer (heads averaged)",
    map.Average(), [.. map.SourceTokens.Select(t => t.Trim())], [.. map.TargetTokens.Select(t => t.Trim())]));

string modelPath = Path.Combine(Path.GetDirectoryName(Charts.PicturePath("x"))!, "..", "models", "translation-es-en.zip");
Directory.CreateDirectory(Path.GetDirectoryName(modelPath)!);
mlContext.Model.SavePipeline(model, trainData.Schema, modelPath);
Console.WriteLine($"saved {Path.GetFullPath(modelPath)}\n");

Console.WriteLine($"bleu_greedy={greedyBleu.Score:F2} bleu_beam={beamBleu.Score:F2} chrf={greedyChrf:F2} train_minutes={trainMinutes:F1} " +
                  ProcessCpu.SummaryPairs(updates, trainTime));

