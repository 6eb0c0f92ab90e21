using Transformer.MLNet.Examples.Data;
using Transformer.MLNet.Network.Bert;
using Transformer.MLNet.Network.Classification;
using Transformer.MLNet.Network.Configuration;
using Transformer.MLNet.Network.Pretrained;
using Transformer.MLNet.Network.Tokenization;
using Transformer.MLNet.Network.Training;

namespace Transformer.MLNet.Network.Tests.Reliability;

/// <summary>The MiniLM vocabulary, real sentences, and a from-scratch BERT small enough to train in seconds.</summary>
internal static class TinyClassifiers
{
    private static readonly Lazy<BertTextTokenizer> LazyTokenizer = new(() =>
        BertTextTokenizer.FromVocabulary(new MemoryStream(MiniLmPackage.ReadResource(MiniLmPackage.Locate(), MiniLmPackage.VocabularyResource))));

    public static BertTextTokenizer Tokenizer => LazyTokenizer.Value;

    public static TransformerConfig Config => TransformerConfig.MiniLmL6 with
    {
        Name = "TinyBert", VocabSize = Tokenizer.VocabularySize, PadTokenId = Tokenizer.PadTokenId,
        ModelDim = 32, Heads = 2, FeedForwardDim = 64, EncoderLayers = 1, MaxPositions = 64,
    };

    /// <summary>The first <paramref name="count"/> sentences and 0/1 labels of a UCI file.</summary>
    public static (string[] Texts, int[] Labels) Sentences(string source, int count)
    {
        var rows = UciSentiment.Read(source).Take(count).ToArray();
        return (rows.Select(r => r.Text).ToArray(), rows.Select(r => r.Positive ? 1 : 0).ToArray());
    }

    public static TextClassifier New(int seed, double dropout = 0.1, int maxTokens = 32)
    {
        Seeding.Apply(seed);
        return TextClassifier.Create(new BertModel(Config), Tokenizer, new TextClassifierSettings(2, maxTokens, dropout));
    }

    public static ClassifierTrainingOptions Options(int epochs, int seed = 1) => new()
    {
        Epochs = epochs, BatchSize = 16, Seed = seed, ReportEvery = 1,
        Optimization = new ClassifierTrainingOptions().Optimization with { LearningRate = 2e-3 },
    };

    /// <summary>Reports synchronously on the training thread (the BCL's <see cref="Progress{T}"/> posts to the thread pool).</summary>
    public sealed class Callback(Action<TrainingProgress> action) : IProgress<TrainingProgress>
    {
        public void Report(TrainingProgress value) => action(value);
    }
}
