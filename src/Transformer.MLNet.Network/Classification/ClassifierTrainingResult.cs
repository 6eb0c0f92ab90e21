namespace Transformer.MLNet.Network.Classification;

/// <summary>What a training run did.</summary>
/// <param name="EpochsRun">Epochs completed (fewer than planned after early stopping).</param>
/// <param name="BestEpoch">Epoch whose weights the classifier holds at the end (the last one without validation).</param>
/// <param name="ValidationAccuracies">Validation accuracy after each epoch; empty without a validation set.</param>
/// <param name="TrainingLosses">Mean training loss of each epoch.</param>
public sealed record ClassifierTrainingResult(
    int EpochsRun, int BestEpoch, IReadOnlyList<double> ValidationAccuracies, IReadOnlyList<double> TrainingLosses);
