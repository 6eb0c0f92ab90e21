using Transformer.MLNet.Classification;
using Transformer.MLNet.Network.Configuration;

namespace Transformer.MLNet.Tests.Classification;

/// <summary>A from-scratch BERT small enough to train in seconds: for tests of plumbing, not of accuracy.</summary>
internal static class TinyScratch
{
    public static TransformerConfig Config { get; } = TransformerConfig.MiniLmL6 with
    {
        Name = "TinyBert", ModelDim = 32, Heads = 2, FeedForwardDim = 64, EncoderLayers = 1, MaxPositions = 64,
    };

    public static TextClassifierOptions Options(string labelColumnName = "Label", int epochs = 1, int? seed = null) => new()
    {
        LabelColumnName = labelColumnName,
        TextColumnName = nameof(SentenceRow.Text),
        ScratchConfig = Config,
        Epochs = epochs,
        BatchSize = 16,
        MaxTokens = 32,
        LearningRate = 1e-3,
        Seed = seed,
    };
}
