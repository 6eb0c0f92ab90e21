namespace Transformer.MLNet.Network.Generation;

/// <summary>What a generative trainer did.</summary>
/// <param name="Steps">Parameter updates made.</param>
/// <param name="Epochs">Epochs started.</param>
/// <param name="BestValidationLoss">Lowest validation cross-entropy (nats per token); the model holds these weights. NaN without validation data.</param>
/// <param name="LastTrainLoss">Mean training loss of the last report interval.</param>
/// <param name="Elapsed">Wall-clock training time.</param>
/// <param name="StopReason">Why training ended: "epochs", "steps", "time budget" or "early stopping".</param>
public sealed record TrainingSummary(long Steps, int Epochs, double BestValidationLoss, double LastTrainLoss, TimeSpan Elapsed, string StopReason);
