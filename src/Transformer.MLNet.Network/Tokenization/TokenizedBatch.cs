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
        SequenceLength = tokenIds.Count == 0 ? 0 : tokenIds.Max(ids => ids.Length);
        Lengths = tokenIds.Select(ids => ids.Length).ToArray();
        TruncatedCount = truncatedCount;
        InputIds = new long[Count * SequenceLength];
        AttentionMask = new long[Count * SequenceLength];
        TokenTypeIds = new long[Count * SequenceLength];
        for (int row = 0; row < Count; row++)
        {
            var ids = tokenIds[row];
            int start = row * SequenceLength;
            for (int t = 0; t < SequenceLength; t++)
            {
                bool real = t < ids.Length;
                InputIds[start + t] = real ? ids[t] : padTokenId;
                AttentionMask[start + t] = real ? 1 : 0;
                TokenTypeIds[start + t] = real && secondSegmentStarts is not null && t >= secondSegmentStarts[row] ? 1 : 0;
            }
        }
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
