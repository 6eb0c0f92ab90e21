using Microsoft.ML.SearchSpace;
using Transformer.MLNet.Network.Classification;
using Transformer.MLNet.Network.Configuration;
using Transformer.MLNet.Network.Training;
using Transformer.MLNet.Schema;

namespace Transformer.MLNet.Classification;

/// <summary>
/// Options of the text classification trainers (binary and multiclass) and of the text regression trainer (which
/// writes no predicted label, so it ignores <see cref="PredictedLabelColumnName"/> and <see cref="LabelSmoothing"/>). The tunable ones carry ML.NET search-space
/// attributes, so <c>mlContext.Auto().CreateSweepableEstimator(..., new SearchSpace&lt;TextClassifierOptions&gt;())</c>
/// can sweep them.
/// </summary>
public sealed class TextClassifierOptions : TrainableEstimatorOptions
{
    /// <summary>The label column: Boolean for binary classification, a key (from <c>MapValueToKey</c>) for multiclass.</summary>
    public string LabelColumnName { get; set; } = ScoreColumnNames.Label;

    /// <summary>The text column.</summary>
    public string TextColumnName { get; set; } = "Text";

    /// <summary>
    /// The second text column for text pairs, or null (default) for single texts. With it each row is read as BERT
    /// reads a pair, <c>[CLS] text [SEP] second [SEP]</c> with token type 1 on the second text, and the two texts share
    /// <see cref="MaxTokens"/> (the longer one is cut first). An empty second text is an error naming the column and row.
    /// </summary>
    public string? SecondTextColumnName { get; set; }

    /// <summary>Name of the score column written.</summary>
    public string ScoreColumnName { get; set; } = ScoreColumnNames.Score;

    /// <summary>Name of the predicted label column written.</summary>
    public string PredictedLabelColumnName { get; set; } = ScoreColumnNames.PredictedLabel;

    /// <summary>Passes over the training data.</summary>
    [Range(1, 10, 4, false)]
    public int Epochs { get; set; } = 4;

    /// <summary>Texts per training micro-batch.</summary>
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

    /// <summary>Most tokens per text ([CLS] and [SEP] included); longer texts are cut. Short texts train much faster with a small value.</summary>
    [Choice(new object[] { 32, 64, 128, 256 }, 64)]
    public int MaxTokens { get; set; } = 64;

    /// <summary>Dropout on the pooled sentence vector.</summary>
    [Range(0.0, 0.3, 0.1, false)]
    public double Dropout { get; set; } = 0.1;

    /// <summary>Label smoothing of the cross-entropy loss.</summary>
    [Range(0.0, 0.2, 0.0, false)]
    public double LabelSmoothing { get; set; }

    /// <summary>Clip the global gradient norm to this value; 0 turns clipping off.</summary>
    public double MaxGradientNorm { get; set; } = 1.0;

    /// <summary>Micro-batches whose gradients add up to one update (effective batch = this × <see cref="BatchSize"/>).</summary>
    public int GradientAccumulationSteps { get; set; } = 1;

    /// <summary>
    /// Keep the pretrained token embeddings fixed while fine-tuning: about half of MiniLM's parameters and much of the
    /// cost of each update, for little accuracy on small data sets. Ignored with <see cref="ScratchConfig"/>.
    /// </summary>
    [BooleanChoice(true)]
    public bool FreezeTokenEmbeddings { get; set; } = true;

    /// <summary>Rows per forward pass when predicting.</summary>
    public int InferenceBatchSize { get; set; } = 32;

    /// <summary>
    /// Folder of an encoder to fine-tune (a Hugging Face BERT folder with <c>config.json</c>, <c>model.safetensors</c>
    /// and <c>vocab.txt</c>, or one this library saved); null fine-tunes the built-in pretrained MiniLM-L6.
    /// </summary>
    public string? EncoderFolder { get; set; }

    /// <summary>
    /// Train an encoder from scratch with this architecture (e.g. <see cref="TransformerConfig.MiniLmL6"/> or a smaller
    /// BERT-shaped config) and the MiniLM vocabulary, instead of fine-tuning a pretrained one.
    /// </summary>
    public TransformerConfig? ScratchConfig { get; set; }

    /// <summary>The network trainer's settings for these options.</summary>
    internal ClassifierTrainingOptions ToTrainingOptions(int seed, IProgress<TrainingProgress>? progress) => Apply(new ClassifierTrainingOptions
    {
        Epochs = Epochs,
        BatchSize = BatchSize,
        WarmupFraction = WarmupFraction,
        FreezeTokenEmbeddings = FreezeTokenEmbeddings && ScratchConfig is null,
        Optimization = new ClassifierTrainingOptions().Optimization with
        {
            LearningRate = LearningRate,
            WeightDecay = WeightDecay,
            MaxGradientNorm = MaxGradientNorm,
            AccumulationSteps = GradientAccumulationSteps,
            LabelSmoothing = LabelSmoothing,
        },
    }, seed, progress);

    /// <summary>Checks that the text column (and the second text column of pairs) are scalar text columns of the input shape.</summary>
    internal void CheckTextColumns(Microsoft.ML.SchemaShape inputSchema)
    {
        Mapping.TextColumn.Check(inputSchema, TextColumnName, nameof(TextColumnName));
        if (SecondTextColumnName is not null)
            Mapping.TextColumn.Check(inputSchema, SecondTextColumnName, nameof(SecondTextColumnName));
    }

    /// <summary>Checks every option before any data is read; errors name the option, its value and the fix.</summary>
    internal void Validate()
    {
        ArgumentException.ThrowIfNullOrEmpty(TextColumnName, nameof(TextColumnName));
        ArgumentException.ThrowIfNullOrEmpty(LabelColumnName, nameof(LabelColumnName));
        ValidateShared();
        ToTrainingOptions(0, null).Validate();
        new TextClassifierSettings(2, MaxTokens, Dropout) { Pairs = SecondTextColumnName is not null }.Validate();
        if (SecondTextColumnName is not null && SecondTextColumnName.Length == 0)
            throw new ArgumentException("SecondTextColumnName is empty; name the second text column, or leave it null for single texts.", nameof(SecondTextColumnName));
        if (InferenceBatchSize < 1)
            throw new ArgumentOutOfRangeException(nameof(InferenceBatchSize), InferenceBatchSize, "InferenceBatchSize must be at least 1.");
        if (EncoderFolder is not null && ScratchConfig is not null)
        {
            throw new ArgumentException(
                "Set either EncoderFolder (fine-tune that encoder) or ScratchConfig (train a new one), not both.", nameof(ScratchConfig));
        }
    }
}
