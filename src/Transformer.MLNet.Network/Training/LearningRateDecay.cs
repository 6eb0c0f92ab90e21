namespace Transformer.MLNet.Network.Training;

/// <summary>How the learning rate falls after the linear warmup.</summary>
public enum LearningRateDecay
{
    /// <summary>Stays at the peak after warmup.</summary>
    Constant,

    /// <summary>Falls linearly from the peak to zero at the last step (BERT fine-tuning).</summary>
    Linear,

    /// <summary>Follows half a cosine from the peak to zero at the last step.</summary>
    Cosine,

    /// <summary>Falls as 1/√step after warmup, the paper's schedule (section 5.3, eq. 3).</summary>
    InverseSqrt,
}
