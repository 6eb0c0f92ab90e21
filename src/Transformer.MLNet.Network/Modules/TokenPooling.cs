using static TorchSharp.torch;

namespace Transformer.MLNet.Network.Modules;

/// <summary>Pooling token states into one vector per sequence; the one implementation the classifier head and the sentence encoder share.</summary>
internal static class TokenPooling
{
    /// <summary>Mean of the token states over the real tokens (attention mask 1), in the states' number format.</summary>
    /// <param name="hidden">(B, T, D) token states.</param>
    /// <param name="attentionMask">(B, T), 1 for real tokens and 0 for padding.</param>
    /// <returns>(B, D); a sequence without real tokens pools to zeros.</returns>
    public static Tensor Mean(Tensor hidden, Tensor attentionMask)
    {
        using var scope = NewDisposeScope();
        var mask = attentionMask.unsqueeze(-1).to_type(hidden.dtype);   // (B, T) -> (B, T, 1)
        var summed = (hidden * mask).sum(1);                            // (B, T, D) -> (B, D)
        var counts = mask.sum(1).clamp_min(1);                          // (B, 1)
        return (summed / counts).MoveToOuterDisposeScope();             // (B, D)
    }
}
