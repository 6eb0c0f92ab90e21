namespace Transformer.MLNet.Network.Tokenization;

public sealed partial class BertTextTokenizer
{
    /// <summary>
    /// The <see cref="BertTokenizationRules.MiniLmPackage"/> rules. Words are cut as that package cuts them and split
    /// by greedy WordPiece, except in the three cases where the package's WordPiece behaves differently: words of more
    /// than 50 characters, words of at most two characters that are not vocabulary entries, and words that WordPiece
    /// cannot cover.
    /// </summary>
    private sealed class PackageRules
    {
        // The package drops longer words (UTF-16 code units) without a token, not even [UNK].
        private const int MaxWordLength = 50;

        // The package splits a space-separated piece before and after each of these characters, keeping them.
        private static readonly System.Buffers.SearchValues<char> Separators = System.Buffers.SearchValues.Create(".,;:\\/?!#$%()=+-*\"'\u2013_`<>&^@{}[]|~");

        private readonly WordPieceVocabulary _vocabulary;

        public PackageRules(WordPieceVocabulary vocabulary) => _vocabulary = vocabulary;

        /// <summary>Appends the text's ids, without <c>[CLS]</c> and <c>[SEP]</c>.</summary>
        public void Append(string text, List<int> ids)
        {
            ReadOnlySpan<char> rest = text;
            while (true)
            {
                // Pieces are separated by a space or CR LF (a lone CR or LF stays inside its piece).
                int end = rest.IndexOfAny(' ', '\r');
                while (end >= 0 && rest[end] == '\r' && (end + 1 == rest.Length || rest[end + 1] != '\n'))
                {
                    int next = rest[(end + 1)..].IndexOfAny(' ', '\r');
                    end = next < 0 ? -1 : end + 1 + next;
                }

                AddPiece(end < 0 ? rest : rest[..end], ids);
                if (end < 0)
                    break;
                rest = rest[(end + (rest[end] == ' ' ? 1 : 2))..];
            }
        }

        private void AddPiece(ReadOnlySpan<char> piece, List<int> ids)
        {
            for (int i; (i = piece.IndexOfAny(Separators)) >= 0; piece = piece[(i + 1)..])
            {
                AddWord(piece[..i], ids);
                AddWord(piece.Slice(i, 1), ids);
            }

            AddWord(piece, ids);
        }

        private void AddWord(ReadOnlySpan<char> word, List<int> ids)
        {
            if (word.Length is 0 or > MaxWordLength)
                return;
            Span<char> lower = stackalloc char[MaxWordLength];
            lower = lower[..word.ToLowerInvariant(lower)];
            int id = _vocabulary.Id(lower);
            if (id >= 0)
            {
                ids.Add(id);
                return;
            }

            // The package's WordPiece only runs on words longer than two characters; shorter unknown words are [UNK]
            // unless they are whitespace (a tab, say), which gives nothing.
            if (lower.Length <= 2)
            {
                if (!lower.IsWhiteSpace())
                    ids.Add(_vocabulary.Unknown);
                return;
            }

            // Where WordPiece gives up on a word, the package keeps the longest-match pieces it found before the first
            // remainder with no matching prefix, then adds [UNK].
            _vocabulary.AppendPieces(lower, ids, keepPiecesBeforeUnknown: true);
        }
    }
}
