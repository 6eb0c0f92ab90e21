namespace Transformer.MLNet.Network.Tokenization;

public sealed partial class BertTextTokenizer
{
    /// <summary>
    /// Tokenizes a sentence given as words: <c>[CLS]</c>, each word's pieces in order, <c>[SEP]</c>, cut to
    /// <paramref name="maxTokens"/>. Each word is tokenized on its own, so a piece never spans two words; a word whose
    /// every character the rules delete (a lone zero-width space, say) becomes one <c>[UNK]</c>, so every word has a first
    /// piece to carry its label.
    /// </summary>
    /// <param name="words">The words; none may be null.</param>
    /// <param name="maxTokens">Most tokens kept, [CLS] and [SEP] included (at least 2).</param>
    /// <param name="firstPieces">Position of each word's first piece in the ids; -1 for a word cut off by the limit.</param>
    /// <returns>The ids.</returns>
    /// <exception cref="ArgumentException">A word is null.</exception>
    internal int[] EncodeWords(IReadOnlyList<string> words, int maxTokens, out int[] firstPieces) =>
        EncodeWords(words, maxTokens, out firstPieces, out _);

    /// <inheritdoc cref="EncodeWords(IReadOnlyList{string}, int, out int[])"/>
    /// <param name="words">The words; none may be null.</param>
    /// <param name="maxTokens">Most tokens kept, [CLS] and [SEP] included (at least 2).</param>
    /// <param name="firstPieces">Position of each word's first piece in the ids; -1 for a word cut off by the limit.</param>
    /// <param name="blank">Per word, whether it had no content (empty, whitespace, or only characters the rules delete)
    /// and stands as a placeholder <c>[UNK]</c>.</param>
    internal int[] EncodeWords(IReadOnlyList<string> words, int maxTokens, out int[] firstPieces, out bool[] blank)
    {
        ArgumentNullException.ThrowIfNull(words);
        if (maxTokens < 2)
            throw new ArgumentOutOfRangeException(nameof(maxTokens), maxTokens, "MaxTokens must be at least 2 ([CLS] and [SEP]).");
        var ids = new List<int>(words.Count + 2) { ClsTokenId };
        firstPieces = new int[words.Count];
        blank = new bool[words.Count];
        for (int w = 0; w < words.Count; w++)
        {
            string word = words[w] ?? throw new ArgumentException($"Word {w} is null.", nameof(words));
            int first = ids.Count;
            if (_package is null)
                _reference!.Append(word, ids);
            else
                _package.Append(word, ids);
            if (ids.Count == first)
            {
                ids.Add(UnknownTokenId);
                blank[w] = true;
            }
            firstPieces[w] = first < maxTokens - 1 ? first : -1;
        }

        if (ids.Count > maxTokens - 1)
            ids.RemoveRange(maxTokens - 1, ids.Count - (maxTokens - 1));
        ids.Add(SepTokenId);
        return [.. ids];
    }
}
