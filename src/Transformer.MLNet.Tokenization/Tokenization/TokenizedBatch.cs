namespace Transformer.MLNet.Network.Tokenization;

/// <summary>
/// Token ids of a list of texts, padded to one length, as managed arrays in row-major (text, position) order — the
/// three inputs of a BERT model.
/// </summary>
public sealed class TokenizedBatch
{
    /// <param name="tokenIds">Each row's ids.</param>
    /// <param name="padTokenId">Id written after each row's tokens.</param>
    /// <param name="truncatedCount">Rows cut to the maximum length.</param>
    /// <param name="secondSegmentStarts">For text pairs, where each row's second text starts (token type 1 from there
    /// to the row's end); null for single texts (all type 0).</param>
    internal TokenizedBatch(IReadOnlyList<int[]> tokenIds, int padTokenId, int truncatedCount, IReadOnlyList<int>? secondSegmentStarts = null)
    {
        Count = tokenIds.Count;
        (InputIds, SequenceLength) = RightPad(tokenIds, padTokenId);
        Lengths = tokenIds.Select(ids => ids.Length).ToArray();
        TruncatedCount = truncatedCount;
        AttentionMask = new long[Count * SequenceLength];
        TokenTypeIds = new long[Count * SequenceLength];
        for (int row = 0; row < Count; row++)
        {
            AttentionMask.AsSpan(row * SequenceLength, Lengths[row]).Fill(1);
            if (secondSegmentStarts is not null && secondSegmentStarts[row] < Lengths[row])
                TokenTypeIds.AsSpan((row * SequenceLength) + secondSegmentStarts[row], Lengths[row] - secondSegmentStarts[row]).Fill(1);
        }
    }

    /// <summary>
    /// Right-pads rows of token ids to the longest, in row-major (row, position) order: the one padding of every batch
    /// of the project, BERT inputs and generative batches alike.
    /// </summary>
    /// <param name="rows">Token ids of each row.</param>
    /// <param name="padId">Id written after each row's tokens.</param>
    /// <param name="minimumWidth">Width when every row is shorter (decoders need at least one position).</param>
    /// <returns>The rows.Count × Width ids and the width.</returns>
    internal static (long[] Ids, int Width) RightPad(IReadOnlyList<int[]> rows, int padId, int minimumWidth = 0)
    {
        int width = rows.Count == 0 ? minimumWidth : Math.Max(minimumWidth, rows.Max(ids => ids.Length));
        var data = new long[rows.Count * width];
        Array.Fill(data, padId);
        for (int row = 0; row < rows.Count; row++)
        {
            var ids = rows[row];
            for (int t = 0; t < ids.Length; t++)
                data[(row * width) + t] = ids[t];
        }

        return (data, width);
    }

    /// <summary>Number of texts (rows).</summary>
    public int Count { get; }

    /// <summary>Padded length of every row: the longest text's token count.</summary>
    public int SequenceLength { get; }

    /// <summary>Real (unpadded) token count of each text, [CLS] and [SEP] included.</summary>
    public int[] Lengths { get; }

    /// <summary>How many texts were cut to the maximum token count.</summary>
    public int TruncatedCount { get; }

    /// <summary>Token ids, <see cref="Count"/> × <see cref="SequenceLength"/>, padding id after each text.</summary>
    public long[] InputIds { get; }

    /// <summary>1 for real tokens, 0 for padding; same layout as <see cref="InputIds"/>.</summary>
    public long[] AttentionMask { get; }

    /// <summary>Segment ids: 0 for single texts and a pair's first text, 1 for a pair's second text; same layout as <see cref="InputIds"/>.</summary>
    public long[] TokenTypeIds { get; }
}
