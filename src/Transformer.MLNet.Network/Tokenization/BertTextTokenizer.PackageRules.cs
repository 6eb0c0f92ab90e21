using Microsoft.ML.Tokenizers;

namespace Transformer.MLNet.Network.Tokenization;

public sealed partial class BertTextTokenizer
{
    /// <summary>
    /// The <see cref="BertTokenizationRules.MiniLmPackage"/> rules. Words are cut as that package cuts them; each word
    /// goes through Microsoft.ML.Tokenizers' WordPiece (normalisation and pre-tokenization off, since the word is
    /// final), and only the two cases where the package's WordPiece behaves differently are handled here: words of at
    /// most two characters that are not vocabulary entries, and words that WordPiece cannot cover.
    /// </summary>
    private sealed class PackageRules
    {
        // The package splits a space-separated piece before and after each of these characters, keeping them.
        private static readonly System.Buffers.SearchValues<char> Separators = System.Buffers.SearchValues.Create(".,;:\\/?!#$%()=+-*\"'\u2013_`<>&^@{}[]|~");

        private readonly Dictionary<string, int> _ids;
        private readonly BertTokenizer _wordPiece;
        private readonly int _unknown;
        private readonly int _classification;
        private readonly int _separator;

        public PackageRules(string[] vocabulary, BertTokenizer wordPiece)
        {
            _ids = new Dictionary<string, int>(vocabulary.Length, StringComparer.Ordinal);
            for (int i = 0; i < vocabulary.Length; i++)
                _ids[vocabulary[i]] = i;   // a repeated line takes the later id, as the package's reader does
            _wordPiece = wordPiece;
            _unknown = _ids["[UNK]"];
            _classification = _ids["[CLS]"];
            _separator = _ids["[SEP]"];
        }

        public IReadOnlyList<int> Encode(string text)
        {
            var ids = new List<int>(text.Length / 3 + 2) { _classification };
            foreach (string piece in text.Split([" ", "\r\n"], StringSplitOptions.None))
            {
                int start = 0;
                for (int i; (i = piece.AsSpan(start).IndexOfAny(Separators)) >= 0; start += i + 1)
                {
                    AddWord(piece.Substring(start, i), ids);
                    AddWord(piece.Substring(start + i, 1), ids);
                }

                AddWord(piece[start..], ids);
            }

            ids.Add(_separator);
            return ids;
        }

        private void AddWord(string word, List<int> ids)
        {
            if (word.Length == 0)
                return;
            word = word.ToLowerInvariant();
            if (_ids.TryGetValue(word, out int id))
            {
                ids.Add(id);
                return;
            }

            // The package's WordPiece only runs on words longer than two characters; shorter unknown words are [UNK]
            // unless they are whitespace (a tab, say), which gives nothing.
            if (word.Length <= 2)
            {
                if (!string.IsNullOrWhiteSpace(word))
                    ids.Add(_unknown);
                return;
            }

            var pieces = _wordPiece.EncodeToIds(word, addSpecialTokens: false, considerPreTokenization: false, considerNormalization: false);
            if (!pieces.Contains(_unknown))
            {
                ids.AddRange(pieces);
                return;
            }

            AddUntilUncovered(word, ids);
        }

        // Where WordPiece gives up on a word (one [UNK]), the package keeps the longest-match pieces it found before
        // the first remainder with no matching prefix, then adds [UNK].
        private void AddUntilUncovered(string word, List<int> ids)
        {
            int start = 0;
            while (start < word.Length)
            {
                string prefix = start == 0 ? "" : "##";
                int found = -1, length = word.Length - start;
                for (; length >= 1; length--)
                {
                    if (_ids.TryGetValue(prefix + word.Substring(start, length), out found))
                        break;
                }

                if (length < 1)
                {
                    ids.Add(_unknown);
                    return;
                }

                ids.Add(found);
                start += length;
            }
        }
    }
}
