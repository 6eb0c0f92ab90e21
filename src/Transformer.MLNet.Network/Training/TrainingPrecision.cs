namespace Transformer.MLNet.Network.Training;

/// <summary>Number format of the forward and backward computation.</summary>
public enum TrainingPrecision
{
    /// <summary>Everything in float32.</summary>
    Float32,

    /// <summary>
    /// Weights, activations and gradients in bfloat16, with float32 master weights and optimizer state (TorchSharp
    /// has no autocast, so this is done explicitly by <see cref="BFloat16MasterWeights"/>).
    /// </summary>
    BFloat16,
}
