using System.Buffers;
using System.Runtime.CompilerServices;
using System.Text;

namespace Transformer.MLNet.Network.Tokenization;

public sealed partial class BertTextTokenizer
{
    /// <summary>
    /// The <see cref="BertTokenizationRules.Reference"/> rules: Hugging Face's BERT uncased tokenizer (special tokens
    /// matched in the raw text, then <c>BertNormalizer</c> with clean_text, handle_chinese_chars, lowercase and
    /// strip_accents, <c>BertPreTokenizer</c>, and WordPiece with <c>max_input_chars_per_word</c> = 100), step by step
    /// in that order, each step one pass over the text.
    /// </summary>
    private sealed class ReferenceRules
    {
        // Longer words (counted in code points) are one [UNK] without a look-up, as in Hugging Face's WordPiece.
        private const int MaxInputCharsPerWord = 100;

        private static readonly string[] SpecialTokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"];

        private readonly WordPieceVocabulary _vocabulary;

        public ReferenceRules(WordPieceVocabulary vocabulary) => _vocabulary = vocabulary;

        /// <summary>Appends the text's ids, without <c>[CLS]</c> and <c>[SEP]</c>.</summary>
        public void Append(string text, List<int> ids)
        {
            // Special tokens written in the text are those tokens (leftmost, then longest, match), and cut the text
            // into sections that are normalised separately.
            int sectionStart = 0;
            for (int at = text.IndexOf('[', StringComparison.Ordinal); at >= 0; at = text.IndexOf('[', at + 1))
            {
                string? special = null;
                foreach (string candidate in SpecialTokens)
                {
                    if (text.AsSpan(at).StartsWith(candidate, StringComparison.Ordinal) && candidate.Length > (special?.Length ?? 0))
                        special = candidate;
                }

                if (special is null)
                    continue;
                AppendSection(text.AsSpan(sectionStart, at - sectionStart), ids);
                ids.Add(_vocabulary.Id(special));
                sectionStart = at + special.Length;
                at = sectionStart - 1;
            }

            AppendSection(text.AsSpan(sectionStart), ids);
        }

        // The cleaned text is written to a pooled buffer, so that long texts do not allocate large objects on each call;
        // only text with non-ASCII characters left after cleaning goes through the casing and normalisation steps.
        private void AppendSection(ReadOnlySpan<char> section, List<int> ids)
        {
            if (section.IsEmpty)
                return;
            char[] buffer = ArrayPool<char>.Shared.Rent(section.Length * 3);   // a Chinese character gains two spaces
            try
            {
                var cleaned = buffer.AsSpan(0, Clean(section, buffer));
                if (Ascii.IsValid(cleaned))
                {
                    Ascii.ToLowerInPlace(cleaned, out _);
                    AppendWords(cleaned, ids);
                }
                else
                {
                    AppendWords(StripAccents(Lowercase(cleaned.ToString())), ids);
                }
            }
            finally
            {
                ArrayPool<char>.Shared.Return(buffer);
            }
        }

        // BertPreTokenizer: words are runs between whitespace and punctuation; each punctuation character is a word.
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private void AppendWords(ReadOnlySpan<char> text, List<int> ids)
        {
            int wordStart = 0;
            for (int i = 0; i < text.Length;)
            {
                Rune rune;
                int used = 1;
                if (text[i] < 0x80)
                    rune = new Rune(text[i]);
                else
                    Rune.DecodeFromUtf16(text[i..], out rune, out used);
                bool space = BertCharacters.IsWhitespace(rune.Value), punctuation = !space && BertCharacters.IsPunctuation(rune.Value);
                if (space || punctuation)
                {
                    AppendWord(text[wordStart..i], ids);
                    if (punctuation)
                        AppendWord(text.Slice(i, used), ids);
                    wordStart = i + used;
                }

                i += used;
            }

            AppendWord(text[wordStart..], ids);
        }

        private void AppendWord(ReadOnlySpan<char> word, List<int> ids)
        {
            if (word.IsEmpty)
                return;
            int lowSurrogates = 0;
            foreach (char c in word)
                lowSurrogates += char.IsLowSurrogate(c) ? 1 : 0;
            if (word.Length - lowSurrogates > MaxInputCharsPerWord)
                ids.Add(_vocabulary.Unknown);
            else
                _vocabulary.AppendPieces(word, ids, keepPiecesBeforeUnknown: false);
        }

        // clean_text, then handle_chinese_chars: controls, U+FFFD and lone surrogates go, whitespace becomes a space,
        // and the BMP Chinese characters get a space on each side.
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]   // a loop over every character: optimised from the first call
        private static int Clean(ReadOnlySpan<char> text, Span<char> destination)
        {
            int written = 0;
            for (int i = 0; i < text.Length;)
            {
                char c = text[i];
                if (c < 0x80)
                {
                    // ASCII: tab, LF, CR and space become a space; the other controls go.
                    if (c is '\t' or '\n' or '\r' or ' ')
                        destination[written++] = ' ';
                    else if (c is >= ' ' and < '\x7F')
                        destination[written++] = c;
                    i++;
                    continue;
                }

                var status = Rune.DecodeFromUtf16(text[i..], out Rune rune, out int used);
                int codePoint = status == OperationStatus.Done ? rune.Value : text[i];   // else a lone surrogate
                if (!BertCharacters.IsDeleted(codePoint))   // tested first: VT, FF and U+FEFF are whitespace too
                {
                    if (BertCharacters.IsWhitespace(codePoint))
                    {
                        destination[written++] = ' ';
                    }
                    else if (used == 1 && BertCharacters.IsSpacedChinese(c))
                    {
                        destination[written++] = ' ';
                        destination[written++] = c;
                        destination[written++] = ' ';
                    }
                    else
                    {
                        text.Slice(i, used).CopyTo(destination[written..]);
                        written += used;
                    }
                }

                i += used;
            }

            return written;
        }

        private static string Lowercase(string text)
        {
            var builder = new StringBuilder(text.Length);
            for (int i = 0; i < text.Length;)
            {
                Rune.DecodeFromUtf16(text.AsSpan(i), out Rune rune, out int used);
                BertCharacters.AppendLowercase(builder, text, i, rune);
                i += used;
            }

            return builder.ToString();
        }

        // NFD, then every Mn removed. .NET rejects U+FFFE in normalisation; a noncharacter neither decomposes nor
        // combines, so the text is normalised in the pieces between them.
        private static string StripAccents(string text)
        {
            string decomposed = text.Contains('\uFFFE', StringComparison.Ordinal)
                ? string.Join('\uFFFE', text.Split('\uFFFE').Select(part => part.Normalize(NormalizationForm.FormD)))
                : text.Normalize(NormalizationForm.FormD);
            var builder = new StringBuilder(decomposed.Length);
            for (int i = 0; i < decomposed.Length;)
            {
                Rune.DecodeFromUtf16(decomposed.AsSpan(i), out Rune rune, out int used);
                if (!BertCharacters.IsNonspacingMark(rune.Value) && !BertCharacters.TryAppendNewDecomposition(builder, rune.Value))
                    builder.Append(decomposed, i, used);
                i += used;
            }

            return builder.ToString();
        }
    }
}
