using Transformer.MLNet.Network.Training;

namespace Transformer.MLNet.Network.Generation;

/// <summary>Settings of <see cref="TranslationTrainer"/> and <see cref="LanguageModelTrainer"/>; the validation metric is cross-entropy.</summary>
public sealed record GenerativeTrainingOptions : TrainingLoopOptions
{
    /// <summary>Creates the defaults: at most 10 epochs of 64 sequences, patience 3, seed 1.</summary>
    public GenerativeTrainingOptions()
    {
        BatchSize = 64;
        Patience = 3;
        Seed = 1;
    }

    /// <summary>Context length of language-model training windows (default 128).</summary>
    public int BlockSize { get; init; } = 128;

    /// <summary>Most validation batches per evaluation; 0 uses the whole validation set (default 0).</summary>
    public int MaxValidationBatches { get; init; }

    /// <inheritdoc/>
    public override void Validate()
    {
        base.Validate();
        Require(BlockSize >= 1, nameof(BlockSize), BlockSize, "must be 1 or more");
        Require(MaxValidationBatches >= 0, nameof(MaxValidationBatches), MaxValidationBatches, "must be 0 (all) or positive");
    }
}
