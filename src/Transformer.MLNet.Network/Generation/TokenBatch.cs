using TorchSharp;
using Transformer.MLNet.Network.Tokenization;
using static TorchSharp.torch;

namespace Transformer.MLNet.Network.Generation;

/// <summary>How token id lists become the padded tensors the models read, the same in training and decoding.</summary>
internal static class TokenBatch
{
    /// <summary>Source ids as the encoder sees them: the text's ids then eos, cut to the positional range.</summary>
    public static int[] SourceIds(int[] ids, int maxPositions)
    {
        ArgumentNullException.ThrowIfNull(ids);
        int kept = Math.Min(ids.Length, maxPositions - 1);
        return [.. ids.AsSpan(0, kept), GenerationTokenizer.EosId];
    }

    /// <summary>Right-pads rows to the longest (at least one position), with the padding of <see cref="TokenizedBatch"/>.</summary>
    /// <returns>(B, T) int64.</returns>
    public static Tensor Pad(IReadOnlyList<int[]> rows, int padId, Device device)
    {
        var (ids, width) = TokenizedBatch.RightPad(rows, padId, minimumWidth: 1);
        return tensor(ids, [rows.Count, width], device: device);
    }
}
