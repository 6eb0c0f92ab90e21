using System.Globalization;
using Transformer.MLNet.Examples.Common;
using Transformer.MLNet.Examples.Data;
using Transformer.MLNet.Network.Configuration;
using Transformer.MLNet.Network.Generation;
using Transformer.MLNet.Network.Models;
using Transformer.MLNet.Network.Runtime;
using Transformer.MLNet.Network.Tokenization;
using Transformer.MLNet.Network.Training;

// Tiny Shakespeare, character level, nanoGPT-style: the first 90% of the characters train a decoder-only Transformer,
// the last 10% measure the validation loss in nats per character; then a sample is drawn from a prompt.
// The learning rate decays to zero over the time budget; the loss curves are written to artifacts/pictures.
// Arguments: [--steps N] most updates (default 5000), [--minutes M] training budget (default 19), [--fp32] or [--bf16]
// to choose the precision (default: bfloat16 where the CPU has native bfloat16 instructions, else float32), [--quick]
// small run; for trying other shapes: [--batch B] windows per update (16), [--dropout P] (0: a 19-minute run sees each
// character about five times, too few to overfit), [--lr R] peak learning rate (2e-3), [--dim D] d_model (256, d_ff 4·D),
// [--layers L] (4), [--block T] context (128).
TorchRuntime.EnsureLoaded();
CultureInfo.CurrentCulture = CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;

bool quick = args.Contains("--quick");
// Without native bfloat16 instructions libtorch's bfloat16 matmuls take a reference kernel that is far slower than
// float32 (CpuFeatures.HasNativeBFloat16), so the default follows the processor.
bool fp32 = args.Contains("--fp32") || (!args.Contains("--bf16") && !CpuFeatures.HasNativeBFloat16);
Console.WriteLine($"precision: {(fp32 ? "float32" : "bfloat16")} (native bfloat16 instructions: {(CpuFeatures.HasNativeBFloat16 ? "yes" : "no")})");
long steps = (long)ExampleArguments.Number(args, "--steps", quick ? 100 : 5000);
double minutes = ExampleArguments.Number(args, "--minutes", quick ? 2 : 19);
double dropout = ExampleArguments.Number(args, "--dropout", 0.0);
int batchSize = (int)ExampleArguments.Number(args, "--batch", 16);
double learningRate = ExampleArguments.Number(args, "--lr", 2e-3);
int modelDim = (int)ExampleArguments.Number(args, "--dim", 256);
int layers = (int)ExampleArguments.Number(args, "--layers", 4);
int block = (int)ExampleArguments.Number(args, "--block", 128);

var (trainText, validationText) = TinyShakespeare.Load();
var tokenizer = CharacterTokenizer.Train(trainText);
int[] train = tokenizer.Encode(trainText);
int[] validation = tokenizer.Encode(validationText);
Console.WriteLine($"tiny Shakespeare: {train.Length} training and {validation.Length} validation characters, vocabulary {tokenizer.VocabSize}");

// GPT-style: pre-LN, learned positions, 4 layers, d_model 256, 4 heads, d_ff 1024, context 128 (about 3.2M parameters).
var config = TransformerConfig.Base with
{
    Name = "Shakespeare", VocabSize = tokenizer.VocabSize, ModelDim = modelDim, Heads = 4, FeedForwardDim = 4 * modelDim,
    EncoderLayers = 0, DecoderLayers = layers, Dropout = dropout, MaxPositions = block, PreLayerNorm = true,
    PositionalEncoding = PositionalEncodingKind.Learned, ScaleEmbeddings = false,
};
Seeding.Apply(1337);
var model = new DecoderOnlyModel(config);
Console.WriteLine($"parameters: {model.parameters().Sum(p => p.numel()):N0}");

var progress = new TrainingLog();
var options = new GenerativeTrainingOptions
{
    Optimization = new TrainingOptions
    {
        LearningRate = learningRate, WarmupSteps = 100, LabelSmoothing = 0.0, WeightDecay = 0.1, Beta2 = 0.99, Epsilon = 1e-8,
        // bfloat16 matmuls with float32 master weights: about 1.8 times the updates of float32 in the same time on CPUs
        // with native bfloat16 units (benchmark encoder-train-bf16); the model is float32 again after training.
        Precision = fp32 ? TrainingPrecision.Float32 : TrainingPrecision.BFloat16,
    },
    MaxSteps = steps,
    Epochs = 1000,
    TimeBudget = TimeSpan.FromMinutes(minutes),
    BatchSize = batchSize,
    BlockSize = block,
    EvaluateEvery = quick ? 50 : 250,
    MaxValidationBatches = 20,
    Patience = 0,
    Seed = 1337,
    Progress = progress,
};
var cpuBefore = ProcessCpu.Now();
var summary = LanguageModelTrainer.Train(model, train, validation, options);
double trainMinutes = summary.Elapsed.TotalMinutes;
Console.WriteLine($"trained {summary.Steps} steps in {trainMinutes:F1} min ({summary.StopReason}, {(fp32 ? "float32" : "bfloat16")})");
Console.WriteLine($"training: {(ProcessCpu.Now() - cpuBefore).Describe(summary.Steps, summary.Elapsed)}");

// The full validation text, in consecutive windows of the training context.
double validationLoss = LanguageModelTrainer.Evaluate(model, validation, options.BlockSize, batchSize: 64);
Console.WriteLine($"validation loss {validationLoss:F4} nats/char (perplexity {Transformer.MLNet.Network.Metrics.Perplexity.FromMeanLoss(validationLoss):F2})");

Console.WriteLine(progress.SaveCurves(Charts.PicturePath("text-generation-training.png"), "Tiny Shakespeare, character level", "nats per character",
    "training loss (mean since last report)", "validation loss (first 20 batches)"));

using var generator = new TextGenerator(model, tokenizer);
string prompt = "ROMEO:\n";
int[] sample = generator.Generate([tokenizer.Encode(prompt)], new GenerationOptions
{
    Strategy = DecodingStrategy.Sampling, Temperature = 0.8, TopK = 40, Seed = 7, MaxNewTokens = config.MaxPositions - prompt.Length,
})[0];
Console.WriteLine($"\nsample:\n{prompt}{tokenizer.Decode(sample)}\n");
Console.WriteLine($"val_loss={validationLoss:F4} train_minutes={trainMinutes:F1} {ProcessCpu.SummaryPairs(summary.Steps, summary.Elapsed)}");

