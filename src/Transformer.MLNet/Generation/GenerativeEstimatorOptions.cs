using Transformer.MLNet.Network.Configuration;
using Transformer.MLNet.Network.Generation;
using Transformer.MLNet.Network.Training;

namespace Transformer.MLNet.Generation;

/// <summary>Training and decoding settings shared by the translation and text-generation estimators.</summary>
public abstract class GenerativeEstimatorOptions : TrainableEstimatorOptions
{
    /// <summary>Creates the shared generative defaults: 5 % of the rows held out, patience 3.</summary>
    private protected GenerativeEstimatorOptions()
    {
        ValidationFraction = 0.05;
        Patience = 3;
    }

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

    /// <summary>How the fitted transformer decodes (strategy, beam width, sampling, token budget, batch size, cache).</summary>
    public GenerationOptions Decoding { get; set; } = new();

    /// <summary>The network trainer's settings for these options.</summary>
    internal GenerativeTrainingOptions ToTrainingOptions(int blockSize, int seed, IProgress<TrainingProgress>? progress) => Apply(new GenerativeTrainingOptions
    {
        Optimization = new TrainingOptions { LearningRate = LearningRate, WarmupSteps = WarmupSteps, LabelSmoothing = LabelSmoothing },
        Epochs = Epochs,
        BatchSize = BatchSize,
        BlockSize = blockSize,
    }, seed, progress);

    /// <summary>Checks the settings and throws an error naming the offending option and value.</summary>
    internal void Validate()
    {
        ArgumentException.ThrowIfNullOrEmpty(OutputColumnName, nameof(OutputColumnName));
        ArgumentNullException.ThrowIfNull(Architecture, nameof(Architecture));
        ArgumentNullException.ThrowIfNull(Decoding, nameof(Decoding));
        ValidateShared();
        Decoding.Validate();
        ToTrainingOptions(128, 0, null).Validate();
    }
}
