using System.Runtime.CompilerServices;

namespace Transformer.MLNet.Network.Tokenization;

/// <summary>
/// A WordPiece vocabulary and its greedy longest-match-first split of one word, in time linear in the word's length.
/// </summary>
/// <remarks>
/// The textbook loop tries every end of the remaining word, from the longest, so a word of n characters costs O(n²)
/// look-ups of O(n) strings. No piece is longer than the vocabulary's longest entry, so trying ends only up to that
/// length gives the same pieces in O(n) look-ups of bounded strings, looked up as spans without allocating.
/// </remarks>
internal sealed class WordPieceVocabulary
{
    private const string ContinuationPrefix = "##";

    private readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> _starts;
    private readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> _continuations;
    private readonly int _longestStart;
    private readonly int _longestContinuation;

    public WordPieceVocabulary(IReadOnlyList<string> vocabulary)
    {
        var starts = new Dictionary<string, int>(vocabulary.Count, StringComparer.Ordinal);
        var continuations = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int id = 0; id < vocabulary.Count; id++)
        {
            string token = vocabulary[id];
            starts[token] = id;   // a repeated line takes the later id, as Hugging Face's vocabulary readers do
            _longestStart = Math.Max(_longestStart, token.Length);
            if (token.StartsWith(ContinuationPrefix, StringComparison.Ordinal))
            {
                continuations[token[ContinuationPrefix.Length..]] = id;
                _longestContinuation = Math.Max(_longestContinuation, token.Length - ContinuationPrefix.Length);
            }
        }

        _starts = starts.GetAlternateLookup<ReadOnlySpan<char>>();
        _continuations = continuations.GetAlternateLookup<ReadOnlySpan<char>>();
        Unknown = Id("[UNK]");
    }

    /// <summary>Id of <c>[UNK]</c>.</summary>
    public int Unknown { get; }

    /// <summary>The id of a whole token, or -1.</summary>
    public int Id(ReadOnlySpan<char> token) => _starts.TryGetValue(token, out int id) ? id : -1;

    /// <summary>
    /// Appends the word's pieces. Where a remainder has no piece in the vocabulary, appends <c>[UNK]</c> after the
    /// pieces found so far if <paramref name="keepPiecesBeforeUnknown"/>, or instead of all of them otherwise.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]   // the innermost loop of tokenization: optimised from the first call
    public void AppendPieces(ReadOnlySpan<char> word, List<int> ids, bool keepPiecesBeforeUnknown)
    {
        int first = ids.Count;
        for (int start = 0; start < word.Length;)
        {
            var lookup = start == 0 ? _starts : _continuations;
            int length = Math.Min(word.Length - start, start == 0 ? _longestStart : _longestContinuation);
            int id = -1;
            while (length > 0 && !lookup.TryGetValue(word.Slice(start, length), out id))
                length--;

            if (length == 0)
            {
                if (!keepPiecesBeforeUnknown)
                    ids.RemoveRange(first, ids.Count - first);
                ids.Add(Unknown);
                return;
            }

            ids.Add(id);
            start += length;
        }
    }
}
