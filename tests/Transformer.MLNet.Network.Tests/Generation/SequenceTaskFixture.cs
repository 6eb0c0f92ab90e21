using Transformer.MLNet.Network.Configuration;
using Transformer.MLNet.Network.Generation;
using Transformer.MLNet.Network.Models;
using Transformer.MLNet.Network.Tokenization;
using Transformer.MLNet.Network.Training;

namespace Transformer.MLNet.Network.Tests.Generation;

/// <summary>A Tiny encoder-decoder trained once on reversing random token strings, shared by the decoding tests.</summary>
internal static class SequenceTaskFixture
{
    public const int Symbols = 12;

    private static readonly Lazy<(EncoderDecoderModel Model, TrainingResult Summary)> Reverser = new(() => Train(Reverse));

    public static EncoderDecoderModel ReverseModel => Reverser.Value.Model;

    public static TrainingResult ReverseSummary => Reverser.Value.Summary;

    public static TransformerConfig Config { get; } = TransformerConfig.Tiny with
    {
        VocabSize = GenerationTokenizer.SpecialTokenCount + Symbols, MaxPositions = 32, PreLayerNorm = true,
    };

    /// <summary>A tokenizer whose ids match the task's: twelve characters after the special tokens.</summary>
    public static GenerationTokenizer Tokenizer { get; } = CharacterTokenizer.Train("abcdefghijkl");

    public static int[] Reverse(int[] source) => [.. source.Reverse()];

    /// <summary>Random strings of ordinary ids, 3 to 8 long, from a seed.</summary>
    public static List<(int[] Source, int[] Target)> Pairs(int count, int seed, Func<int[], int[]> task)
    {
        var random = new Random(seed);
        var pairs = new List<(int[], int[])>(count);
        for (int i = 0; i < count; i++)
        {
            int[] source = [.. Enumerable.Range(0, random.Next(3, 9)).Select(_ => GenerationTokenizer.SpecialTokenCount + random.Next(Symbols))];
            pairs.Add((source, task(source)));
        }

        return pairs;
    }

    public static (EncoderDecoderModel, TrainingResult) Train(Func<int[], int[]> task)
    {
        Seeding.Apply(7);
        var model = new EncoderDecoderModel(Config);
        var options = new GenerativeTrainingOptions
        {
            Optimization = new TrainingOptions { LearningRate = 5e-3, WarmupSteps = 30, LabelSmoothing = 0.0, WeightDecay = 0.0 },
            Epochs = 20,
            BatchSize = 64,
            Patience = 0,
            Seed = 3,
        };
        var clock = System.Diagnostics.Stopwatch.StartNew();

        // A model this small gains nothing from intra-op threads, and on a busy machine their barriers cost much.
        int threads = TorchSharp.torch.get_num_threads();
        TorchSharp.torch.set_num_threads(1);
        TrainingResult summary;
        try
        {
            summary = TranslationTrainer.Train(model, Pairs(4000, 1, task), Pairs(200, 2, task), options);
        }
        finally
        {
            TorchSharp.torch.set_num_threads(threads);
        }

        Console.WriteLine($"reverse task: {summary}, {clock.Elapsed.TotalSeconds:F1} s");
        return (model, summary);
    }
}
