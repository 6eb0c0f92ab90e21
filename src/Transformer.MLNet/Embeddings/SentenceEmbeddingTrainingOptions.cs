using Transformer.MLNet.Network.Embeddings;
using Transformer.MLNet.Network.Training;
using Transformer.MLNet.Schema;

namespace Transformer.MLNet.Embeddings;

/// <summary>
/// Options of the bi-encoder fine-tuning (<c>mlContext.Transforms.Text.FineTuneSentenceEmbedding</c>): pairs of
/// sentences with a similarity label (CoSENT or cosine loss) or (anchor, positive) pairs without one (multiple-negatives
/// ranking). The fitted transformer embeds <see cref="InputColumnName"/> like <c>ApplySentenceEmbedding</c> (mean pooling,
/// L2-normalised).
/// </summary>
public sealed class SentenceEmbeddingTrainingOptions : TrainableEstimatorOptions
{
    /// <summary>Each training pair's first sentence (the anchor).</summary>
    public string FirstSentenceColumnName { get; set; } = "Sentence1";

    /// <summary>Each training pair's second sentence (the positive).</summary>
    public string SecondSentenceColumnName { get; set; } = "Sentence2";

    /// <summary>Single column of gold similarities (any scale for CoSENT; [−1, 1] for cosine loss); null for multiple-negatives ranking.</summary>
    public string? LabelColumnName { get; set; } = ScoreColumnNames.Label;

    /// <summary>The loss (default CoSENT).</summary>
    public SimilarityLoss Loss { get; set; } = SimilarityLoss.CoSent;

    /// <summary>Multiplier of the cosines in CoSENT and multiple-negatives ranking, in (0, 1e4] (default 20).</summary>
    public double Scale { get; set; } = 20;

    /// <summary>Passes over the training pairs.</summary>
    public int Epochs { get; set; } = 4;

    /// <summary>Pairs per micro-batch (also the in-batch negatives of multiple-negatives ranking).</summary>
    public int BatchSize { get; set; } = 16;

    /// <summary>Peak learning rate (AdamW), reached after warmup and then decayed linearly.</summary>
    public double LearningRate { get; set; } = 2e-5;

    /// <summary>Decoupled weight decay of AdamW.</summary>
    public double WeightDecay { get; set; } = 0.01;

    /// <summary>Fraction of the updates spent warming the learning rate up.</summary>
    public double WarmupFraction { get; set; } = 0.1;

    /// <summary>Keep the pretrained token embeddings fixed while fine-tuning (faster updates; default false).</summary>
    public bool FreezeTokenEmbeddings { get; set; }

    /// <summary>Most tokens per sentence in training and in the fitted featurizer.</summary>
    public int MaxTokens { get; set; } = 128;

    /// <summary>The text column the fitted featurizer embeds; null embeds <see cref="FirstSentenceColumnName"/>.</summary>
    public string? InputColumnName { get; set; }

    /// <summary>The vector column the fitted featurizer writes.</summary>
    public string OutputColumnName { get; set; } = "Features";

    /// <summary>Texts per forward pass of the fitted featurizer.</summary>
    public int InferenceBatchSize { get; set; } = 32;

    /// <summary>Folder of the encoder to start from (a Hugging Face BERT folder); null starts from the built-in MiniLM-L6.</summary>
    public string? EncoderFolder { get; set; }

    internal SentenceEncoderTrainingOptions ToTrainingOptions(int seed, IProgress<TrainingProgress>? progress) => Apply(new SentenceEncoderTrainingOptions
    {
        Epochs = Epochs,
        BatchSize = BatchSize,
        WarmupFraction = WarmupFraction,
        Loss = Loss,
        Scale = Scale,
        MaxTokens = MaxTokens,
        FreezeTokenEmbeddings = FreezeTokenEmbeddings,
        Optimization = new SentenceEncoderTrainingOptions().Optimization with { LearningRate = LearningRate, WeightDecay = WeightDecay },
    }, seed, progress);

    /// <summary>The featurizer's options for the fitted encoder.</summary>
    internal SentenceEmbeddingOptions ToEmbeddingOptions() => new()
    {
        OutputColumnName = OutputColumnName,
        InputColumnName = InputColumnName ?? FirstSentenceColumnName,
        MaxTokens = MaxTokens,
        InferenceBatchSize = InferenceBatchSize,
    };

    /// <summary>Checks every option before any data is read.</summary>
    internal void Validate()
    {
        ArgumentException.ThrowIfNullOrEmpty(FirstSentenceColumnName, nameof(FirstSentenceColumnName));
        ArgumentException.ThrowIfNullOrEmpty(SecondSentenceColumnName, nameof(SecondSentenceColumnName));
        if (Loss != SimilarityLoss.MultipleNegativesRanking && string.IsNullOrEmpty(LabelColumnName))
        {
            throw new ArgumentException(
                $"Loss = {Loss} needs a similarity label: set LabelColumnName, or use SimilarityLoss.MultipleNegativesRanking for (anchor, positive) pairs.",
                nameof(LabelColumnName));
        }

        Encoders.EncoderLoader.CheckFolder(EncoderFolder, nameof(EncoderFolder));
        ValidateShared();
        ToTrainingOptions(0, null).Validate();
        ToEmbeddingOptions().Validate();
    }
}
