using Microsoft.ML.SearchSpace;
using Transformer.MLNet.Network.Configuration;
using Transformer.MLNet.Network.TokenClassification;
using Transformer.MLNet.Network.Training;
using Transformer.MLNet.Schema;

namespace Transformer.MLNet.TokenClassification;

/// <summary>
/// Options of the token classifier (named entities and other IOB2 tagging). The tunable ones carry ML.NET search-space
/// attributes for AutoML.
/// </summary>
public sealed class TokenClassifierOptions : TrainableEstimatorOptions
{
    /// <summary>
    /// The label column: a vector of keys, one IOB2 tag per word (<c>O</c>, <c>B-TYPE</c>, <c>I-TYPE</c>), as
    /// <c>MapValueToKey</c> makes from a vector of tag strings; its key values name the tags.
    /// </summary>
    public string LabelColumnName { get; set; } = ScoreColumnNames.Label;

    /// <summary>
    /// The input column: raw text (String), cut into words at whitespace with each punctuation character a word of its
    /// own, or a sentence already split into words (a vector of String).
    /// </summary>
    public string TextColumnName { get; set; } = "Text";

    /// <summary>Name of the predicted tags column written: a vector of the label's key type, one key per word.</summary>
    public string PredictedLabelColumnName { get; set; } = ScoreColumnNames.PredictedLabel;

    /// <summary>
    /// Prefix of the entity columns written: <c>{prefix}Type</c> and <c>{prefix}Text</c> (vectors of String),
    /// <c>{prefix}Start</c> and <c>{prefix}End</c> (vectors of Int32, character offsets, end exclusive) and
    /// <c>{prefix}Score</c> (vector of Single), one item per entity found.
    /// </summary>
    public string EntityColumnPrefix { get; set; } = "Entity";

    /// <summary>Passes over the training sentences.</summary>
    [Range(1, 10, 4, false)]
    public int Epochs { get; set; } = 4;

    /// <summary>Sentences per training micro-batch.</summary>
    [Choice(new object[] { 8, 16, 32 }, 16)]
    public int BatchSize { get; set; } = 16;

    /// <summary>Peak learning rate (AdamW), reached after warmup and then decayed.</summary>
    [Range(1e-5, 1e-3, 1e-4, true)]
    public double LearningRate { get; set; } = 1e-4;

    /// <summary>Decoupled weight decay of AdamW (not applied to biases and LayerNorm parameters).</summary>
    [Range(0.0, 0.1, 0.01, false)]
    public double WeightDecay { get; set; } = 0.01;

    /// <summary>Fraction of the updates spent warming the learning rate up; it then decays linearly to zero.</summary>
    [Range(0.0, 0.3, 0.1, false)]
    public double WarmupFraction { get; set; } = 0.1;

    /// <summary>Most word pieces per sentence ([CLS] and [SEP] included); the words past the limit are tagged <c>O</c>.</summary>
    [Choice(new object[] { 64, 128, 256 }, 128)]
    public int MaxTokens { get; set; } = 128;

    /// <summary>Dropout on the token vectors.</summary>
    [Range(0.0, 0.3, 0.1, false)]
    public double Dropout { get; set; } = 0.1;

    /// <summary>Label smoothing of the cross-entropy loss.</summary>
    [Range(0.0, 0.2, 0.0, false)]
    public double LabelSmoothing { get; set; }

    /// <summary>Clip the global gradient norm to this value; 0 turns clipping off.</summary>
    public double MaxGradientNorm { get; set; } = 1.0;

    /// <summary>Keep the pretrained token embeddings fixed while fine-tuning (about half of MiniLM's parameters). Ignored with <see cref="ScratchConfig"/>.</summary>
    [BooleanChoice(true)]
    public bool FreezeTokenEmbeddings { get; set; } = true;

    /// <summary>Sentences per forward pass when predicting.</summary>
    public int InferenceBatchSize { get; set; } = 32;

    /// <summary>Folder of a Hugging Face BERT encoder to fine-tune; null fine-tunes the built-in pretrained MiniLM-L6.</summary>
    public string? EncoderFolder { get; set; }

    /// <summary>Train an encoder from scratch with this architecture and the MiniLM vocabulary, instead of fine-tuning one.</summary>
    public TransformerConfig? ScratchConfig { get; set; }

    /// <summary>The network trainer's settings for these options.</summary>
    internal TokenClassifierTrainingOptions ToTrainingOptions(int seed, IProgress<TrainingProgress>? progress) => Apply(new TokenClassifierTrainingOptions
    {
        Epochs = Epochs,
        BatchSize = BatchSize,
        WarmupFraction = WarmupFraction,
        FreezeTokenEmbeddings = FreezeTokenEmbeddings && ScratchConfig is null,
        Optimization = new TokenClassifierTrainingOptions().Optimization with
        {
            LearningRate = LearningRate,
            WeightDecay = WeightDecay,
            MaxGradientNorm = MaxGradientNorm,
            LabelSmoothing = LabelSmoothing,
        },
    }, seed, progress);

    /// <summary>The output column names, in order.</summary>
    internal string[] EntityColumnNames => TokenClassificationTransformer.EntityColumns(EntityColumnPrefix);

    /// <summary>Checks every option before any data is read; errors name the option, its value and the fix.</summary>
    internal void Validate()
    {
        ArgumentException.ThrowIfNullOrEmpty(TextColumnName, nameof(TextColumnName));
        ArgumentException.ThrowIfNullOrEmpty(LabelColumnName, nameof(LabelColumnName));
        ArgumentException.ThrowIfNullOrEmpty(PredictedLabelColumnName, nameof(PredictedLabelColumnName));
        ArgumentException.ThrowIfNullOrEmpty(EntityColumnPrefix, nameof(EntityColumnPrefix));
        ValidateShared();
        ToTrainingOptions(0, null).Validate();
        new TokenClassifierSettings(["O"], MaxTokens, Dropout).Validate();
        if (InferenceBatchSize < 1)
            throw new ArgumentOutOfRangeException(nameof(InferenceBatchSize), InferenceBatchSize, "InferenceBatchSize must be at least 1.");
        if (EncoderFolder is not null && ScratchConfig is not null)
        {
            throw new ArgumentException(
                "Set either EncoderFolder (fine-tune that encoder) or ScratchConfig (train a new one), not both.", nameof(ScratchConfig));
        }
    }
}
