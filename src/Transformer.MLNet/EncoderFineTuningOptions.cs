using Microsoft.ML.SearchSpace;
using Transformer.MLNet.Network.Configuration;
using Transformer.MLNet.Network.Training;

namespace Transformer.MLNet;

/// <summary>
/// The options every estimator that fine-tunes a BERT encoder with a task head shares (text classifiers, text
/// regression, the token classifier): one name, meaning and default for each training knob. The tunable ones carry
/// ML.NET search-space attributes for AutoML.
/// </summary>
public abstract class EncoderFineTuningOptions : TrainableEstimatorOptions
{
    private protected EncoderFineTuningOptions()
    {
    }

    /// <summary>Passes over the training data.</summary>
    [Range(1, 10, 4, false)]
    public int Epochs { get; set; } = 4;

    /// <summary>Rows (texts, pairs or sentences) per training micro-batch.</summary>
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

    /// <summary>Dropout on what the head reads: the pooled sentence vector of a classifier, the token vectors of the token classifier.</summary>
    [Range(0.0, 0.3, 0.1, false)]
    public double Dropout { get; set; } = 0.1;

    /// <summary>Label smoothing of the cross-entropy loss (classifiers only; text regression ignores it).</summary>
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

    /// <summary>The network trainer's options with these knobs, the shared ones and the seed and progress applied.</summary>
    private protected TOptions ApplyFineTuning<TOptions>(TOptions defaults, int seed, IProgress<TrainingProgress>? progress)
        where TOptions : TrainingLoopOptions => Apply((TOptions)(defaults with
        {
            Epochs = Epochs,
            BatchSize = BatchSize,
            WarmupFraction = WarmupFraction,
            Optimization = defaults.Optimization with
            {
                LearningRate = LearningRate,
                WeightDecay = WeightDecay,
                MaxGradientNorm = MaxGradientNorm,
                AccumulationSteps = GradientAccumulationSteps,
                LabelSmoothing = LabelSmoothing,
            },
        }), seed, progress);

    /// <summary>Checks the knobs of this class and the shared ones; errors name the option, its value and the fix.</summary>
    private protected void ValidateFineTuning()
    {
        ValidateShared();
        // Checked here under the names users set; the network trainer checks them again under its own.
        static void Require(bool ok, string option, object value, string rule)
        {
            if (!ok)
                throw new ArgumentOutOfRangeException(option, value, $"{option} = {value} is invalid: {rule}.");
        }

        Require(Epochs >= 1, nameof(Epochs), Epochs, "it must be 1 or more");
        Require(BatchSize >= 1, nameof(BatchSize), BatchSize, "it must be 1 or more");
        Require(LearningRate > 0 && double.IsFinite(LearningRate), nameof(LearningRate), LearningRate, "it must be a positive finite number");
        Require(WeightDecay >= 0 && double.IsFinite(WeightDecay), nameof(WeightDecay), WeightDecay, "it must be zero or a positive finite number");
        Require(WarmupFraction is >= 0 and <= 1, nameof(WarmupFraction), WarmupFraction, "it must be in [0, 1]");
        Require(LabelSmoothing is >= 0 and < 1, nameof(LabelSmoothing), LabelSmoothing, "it must be in [0, 1)");
        Require(MaxGradientNorm >= 0 && !double.IsNaN(MaxGradientNorm), nameof(MaxGradientNorm), MaxGradientNorm, "it must be zero (no clipping) or positive");
        Require(GradientAccumulationSteps >= 1, nameof(GradientAccumulationSteps), GradientAccumulationSteps, "it must be 1 or more");
        Mapping.TextMappingTransformer.CheckInferenceBatchSize(InferenceBatchSize);

        Encoders.EncoderLoader.CheckFolder(EncoderFolder, nameof(EncoderFolder));
        if (EncoderFolder is not null && ScratchConfig is not null)
        {
            throw new ArgumentException(
                "Set either EncoderFolder (fine-tune that encoder) or ScratchConfig (train a new one), not both.", nameof(ScratchConfig));
        }
    }
}
