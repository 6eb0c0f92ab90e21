using System.Buffers;
using System.Text;

namespace Transformer.MLNet.Network.Tokenization;

/// <summary>
/// Cuts raw text into words as BERT's pre-tokenizer does, keeping where each word is in the text: whitespace
/// separates words, and each punctuation character and each CJK ideograph is a word of its own. Characters the
/// tokenizer deletes (controls, zero-width and other format characters) stay inside their word, and a run of only
/// such characters is no word. One pass over the text; offsets are UTF-16 indices into the text as given.
/// </summary>
public static class WordSplitter
{
    /// <summary>The words of <paramref name="text"/>, as (start, length) in the text.</summary>
    /// <param name="text">Raw text.</param>
    /// <returns>The words in order; <c>text.Substring(start, length)</c> is each word.</returns>
    public static IReadOnlyList<(int Start, int Length)> Split(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var words = new List<(int Start, int Length)>();
        int start = -1;
        bool kept = false;   // the current word has a character the tokenizer keeps
        for (int i = 0; i < text.Length;)
        {
            var status = Rune.DecodeFromUtf16(text.AsSpan(i), out Rune rune, out int used);
            int codePoint = status == OperationStatus.Done ? rune.Value : text[i];
            bool deleted = BertCharacters.IsDeleted(codePoint);
            if (!deleted && BertCharacters.IsWhitespace(codePoint))
            {
                Close(i);
            }
            else if (!deleted && (BertCharacters.IsPunctuation(codePoint) || (used == 1 && BertCharacters.IsSpacedChinese(text[i]))))
            {
                Close(i);
                words.Add((i, used));
            }
            else
            {
                if (start < 0)
                    start = i;
                kept |= !deleted;
            }

            i += used;
        }

        Close(text.Length);
        return words;

        void Close(int end)
        {
            if (start >= 0 && kept)
                words.Add((start, end - start));
            start = -1;
            kept = false;
        }
    }
}
