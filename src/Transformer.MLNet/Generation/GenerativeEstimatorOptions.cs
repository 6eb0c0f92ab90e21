using Transformer.MLNet.Network.Configuration;
using Transformer.MLNet.Network.Generation;
using Transformer.MLNet.Network.Training;

namespace Transformer.MLNet.Generation;

/// <summary>Training and decoding settings shared by the translation and text-generation estimators.</summary>
public abstract class GenerativeEstimatorOptions
{
    /// <summary>Name of the text column the transformer adds.</summary>
    public string OutputColumnName { get; set; } = "";

    /// <summary>
    /// Network sizes; <see cref="TransformerConfig.VocabSize"/> and <see cref="TransformerConfig.PadTokenId"/> are
    /// replaced by the tokenizer's, everything else is used as given.
    /// </summary>
    public TransformerConfig Architecture { get; set; } = TransformerConfig.Tiny;

    /// <summary>Passes over the training rows at most.</summary>
    public int Epochs { get; set; } = 10;

    /// <summary>Sequences per training batch.</summary>
    public int BatchSize { get; set; } = 64;

    /// <summary>Peak learning rate of AdamW (after linear warmup, then linear decay).</summary>
    public double LearningRate { get; set; } = 1e-3;

    /// <summary>Warmup updates.</summary>
    public int WarmupSteps { get; set; } = 200;

    /// <summary>Label smoothing ε of the training loss.</summary>
    public double LabelSmoothing { get; set; } = 0.1;

    /// <summary>Fraction of rows held out (seeded) for validation and early stopping; 0 trains on every row.</summary>
    public double ValidationFraction { get; set; } = 0.05;

    /// <summary>Validations without improvement before training stops; 0 never stops early.</summary>
    public int Patience { get; set; } = 3;

    /// <summary>
    /// Arithmetic of training: float32, or bfloat16 with float32 master weights (faster on CPUs with bfloat16 units;
    /// the fitted model is float32 either way). Default float32.
    /// </summary>
    public TrainingPrecision Precision { get; set; } = TrainingPrecision.Float32;

    /// <summary>Seed of weights, shuffling, validation split and dropout.</summary>
    public int Seed { get; set; } = 1;

    /// <summary>Wall-clock training budget, or null for none.</summary>
    public TimeSpan? TimeBudget { get; set; }

    /// <summary>
    /// With a <see cref="TimeBudget"/>, the learning rate also decays with the fraction of the budget spent, so a run
    /// cut short by time still ends with a fully decayed rate (default true).
    /// </summary>
    public bool DecayWithinTimeBudget { get; set; } = true;

    /// <summary>How the fitted transformer decodes (strategy, beam width, sampling, token budget, batch size, cache).</summary>
    public GenerationOptions Decoding { get; set; } = new();

    /// <summary>Receives training progress (every 50 updates and after every validation).</summary>
    public IProgress<TrainingProgress>? Progress { get; set; }

    /// <summary>Cancels <c>Fit</c>.</summary>
    public CancellationToken Cancellation { get; set; }

    /// <summary>The network trainer's settings for these options.</summary>
    internal GenerativeTrainingOptions ToTrainingOptions(int blockSize = 128) => new GenerativeTrainingOptions
    {
        Optimization = new TrainingOptions { LearningRate = LearningRate, WarmupSteps = WarmupSteps, LabelSmoothing = LabelSmoothing, Precision = Precision },
        Epochs = Epochs,
        BatchSize = BatchSize,
        BlockSize = blockSize,
        Patience = Patience,
        Seed = Seed,
        TimeBudget = TimeBudget,
        DecayWithinTimeBudget = DecayWithinTimeBudget,
        Progress = Progress,
    };

    /// <summary>Checks the settings and throws an error naming the offending option and value.</summary>
    internal void Validate()
    {
        ArgumentException.ThrowIfNullOrEmpty(OutputColumnName, nameof(OutputColumnName));
        ArgumentNullException.ThrowIfNull(Architecture, nameof(Architecture));
        ArgumentNullException.ThrowIfNull(Decoding, nameof(Decoding));
        if (ValidationFraction is < 0 or >= 1)
            throw new ArgumentOutOfRangeException(nameof(ValidationFraction), ValidationFraction, "ValidationFraction must be in [0, 1).");
        Decoding.Validate();
        ToTrainingOptions().Validate();
    }
}
