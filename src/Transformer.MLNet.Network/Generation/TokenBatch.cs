using TorchSharp;
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
        return [.. ids.AsSpan(0, kept), Tokenization.GenerationTokenizer.EosId];
    }

    /// <summary>Right-pads rows to the longest.</summary>
    /// <returns>(B, T) int64.</returns>
    public static Tensor Pad(IReadOnlyList<int[]> rows, int padId, Device device)
    {
        int width = Math.Max(1, rows.Max(r => r.Length));
        var data = new long[rows.Count * width];
        Array.Fill(data, padId);
        for (int r = 0; r < rows.Count; r++)
        {
            for (int t = 0; t < rows[r].Length; t++)
                data[(r * width) + t] = rows[r][t];
        }

        return tensor(data, [rows.Count, width], device: device);
    }
}
