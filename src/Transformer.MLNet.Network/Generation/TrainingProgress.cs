namespace Transformer.MLNet.Network.Generation;

/// <summary>A progress report of a generative trainer.</summary>
/// <param name="Step">Parameter updates so far.</param>
/// <param name="Epoch">Epoch being trained (1-based).</param>
/// <param name="TrainLoss">Mean training loss since the previous report (nats per token, label smoothing included).</param>
/// <param name="ValidationLoss">Validation cross-entropy (nats per token) when this report follows an evaluation.</param>
/// <param name="LearningRate">Current learning rate.</param>
/// <param name="Elapsed">Time since training started.</param>
public sealed record TrainingProgress(long Step, int Epoch, double TrainLoss, double? ValidationLoss, double LearningRate, TimeSpan Elapsed);
