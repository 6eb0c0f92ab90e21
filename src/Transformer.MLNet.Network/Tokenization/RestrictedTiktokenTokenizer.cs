using Microsoft.ML.Tokenizers;

namespace Transformer.MLNet.Network.Tokenization;

/// <summary>
/// OpenAI's pretrained byte-level BPE <c>o200k_base</c> (Microsoft.ML.Tokenizers' Tiktoken, data from
/// Microsoft.ML.Tokenizers.Data.O200kBase) with its 200k vocabulary restricted to the ids that occur in a
/// training corpus and renumbered compactly after the four special tokens, so that embedding tables stay small.
/// Text whose BPE tokens all occurred in the corpus decodes back exactly; any other token becomes unk.
/// </summary>
/// <remarks>
/// BPE takes time quadratic in the length of one pre-tokenized piece, so a piece longer than
/// <see cref="MaxPieceBytes"/> UTF-8 bytes (a run of emoji or of one letter with no spaces, never ordinary prose) is
/// encoded in chunks of at most that many bytes, cut between characters; encoding time stays linear in the text's
/// length. Such a piece may then get other, equally valid tokens than unchunked BPE would give it; every other piece,
/// and so all ordinary text, gets exactly <c>o200k_base</c>'s tokens.
/// </remarks>
public sealed class RestrictedTiktokenTokenizer : GenerationTokenizer
{
    internal const string KindName = "tiktoken-restricted";

    /// <summary>The pretrained encoding this tokenizer restricts.</summary>
    public const string EncodingName = "o200k_base";

    private static readonly Lazy<TiktokenTokenizer> Pretrained = new(() => TiktokenTokenizer.CreateForEncoding(EncodingName));

    /// <summary>The most ids a saved vocabulary may hold: more than <c>o200k_base</c> has (about 200,000).</summary>
    internal const int MaxVocabulary = 1 << 18;

    /// <summary>Longest pre-tokenized piece, in UTF-8 bytes, that BPE runs on whole; longer ones are chunked.</summary>
    internal const int MaxPieceBytes = 1024;

    private readonly int[] originalIds;
    private readonly Dictionary<int, int> compactIds;

    private RestrictedTiktokenTokenizer(int[] originalIds)
    {
        this.originalIds = originalIds;
        compactIds = new Dictionary<int, int>(originalIds.Length);
        for (int i = 0; i < originalIds.Length; i++)
        {
            if (!compactIds.TryAdd(originalIds[i], SpecialTokenCount + i))
                throw new InvalidDataException($"Pretrained id {originalIds[i]} appears twice in the restricted vocabulary.");
        }
    }

    /// <summary>Builds the vocabulary from a corpus: every <c>o200k_base</c> id seen at least <paramref name="minCount"/> times.</summary>
    /// <param name="corpus">Training texts (source and target sides, for a shared vocabulary).</param>
    /// <param name="minCount">Occurrences a token needs to be kept (1 keeps all).</param>
    /// <returns>The tokenizer; ordinary ids are ordered by falling frequency.</returns>
    /// <exception cref="ArgumentException">The corpus is empty or <paramref name="minCount"/> is below 1.</exception>
    public static RestrictedTiktokenTokenizer Train(IEnumerable<string> corpus, int minCount = 1)
    {
        ArgumentNullException.ThrowIfNull(corpus);
        if (minCount < 1)
            throw new ArgumentException($"minCount = {minCount} is invalid: it must be 1 or more.", nameof(minCount));
        var counts = CountTokens(corpus);
        if (counts.Count == 0)
            throw new ArgumentException("The corpus has no tokens: pass at least one non-empty text.", nameof(corpus));
        return Train(counts, minCount);
    }

    /// <summary>How often each <c>o200k_base</c> id occurs in a corpus.</summary>
    /// <param name="corpus">Texts; a null one counts as empty.</param>
    /// <returns>Occurrences per pretrained id (ids that do not occur are absent).</returns>
    public static Dictionary<int, int> CountTokens(IEnumerable<string> corpus)
    {
        ArgumentNullException.ThrowIfNull(corpus);
        var counts = new Dictionary<int, int>();
        foreach (string text in corpus)
        {
            foreach (var token in EncodePretrained(text ?? ""))
                counts[token.Id] = counts.GetValueOrDefault(token.Id) + 1;
        }

        return counts;
    }

    /// <summary>Builds the vocabulary from counts of <see cref="CountTokens"/>: every id counted at least <paramref name="minCount"/> times.</summary>
    /// <param name="counts">Occurrences per pretrained id.</param>
    /// <param name="minCount">Occurrences a token needs to be kept (1 keeps all).</param>
    /// <returns>The tokenizer; ordinary ids are ordered by falling frequency.</returns>
    /// <exception cref="ArgumentException"><paramref name="minCount"/> is below 1.</exception>
    public static RestrictedTiktokenTokenizer Train(IReadOnlyDictionary<int, int> counts, int minCount)
    {
        ArgumentNullException.ThrowIfNull(counts);
        if (minCount < 1)
            throw new ArgumentException($"minCount = {minCount} is invalid: it must be 1 or more.", nameof(minCount));
        int[] kept = [.. counts.Where(kv => kv.Value >= minCount).OrderByDescending(kv => kv.Value).ThenBy(kv => kv.Key).Select(kv => kv.Key)];
        return new RestrictedTiktokenTokenizer(kept);
    }

    /// <inheritdoc />
    public override int VocabSize => SpecialTokenCount + originalIds.Length;

    /// <inheritdoc />
    protected override string Kind => KindName;

    /// <inheritdoc />
    protected override EncodeResults<EncodedToken> EncodeToTokens(string? text, ReadOnlySpan<char> textSpan, EncodeSettings settings)
    {
        string input = text ?? textSpan.ToString();
        var tokens = new List<EncodedToken>();
        foreach (var token in EncodePretrained(input))
        {
            int id = compactIds.TryGetValue(token.Id, out int compact) ? compact : UnkId;
            tokens.Add(new EncodedToken(id, token.Value, token.Offset));
        }

        return Limit(tokens, settings, input.Length);
    }

    /// <summary>
    /// The <c>o200k_base</c> tokens of <paramref name="text"/> (pretrained ids, offsets into the text): exactly the
    /// pretrained tokenizer's unless a piece exceeds <see cref="MaxPieceBytes"/>, which is then encoded in chunks.
    /// </summary>
    /// <param name="text">Any text.</param>
    /// <returns>The tokens, in order.</returns>
    internal static IReadOnlyList<EncodedToken> EncodePretrained(string text)
    {
        var pretrained = Pretrained.Value;

        // A UTF-8 byte count is at most 3 per UTF-16 char, so a short text cannot hold a long piece.
        (int Offset, int Length)[] pieces = text.Length * 3L <= MaxPieceBytes || pretrained.PreTokenizer is null || pretrained.Normalizer is not null
            ? []
            : [.. pretrained.PreTokenizer.PreTokenize(text)];
        if (!pieces.Any(piece => Utf8Length(text.AsSpan(piece.Offset, piece.Length)) > MaxPieceBytes))
            return pretrained.EncodeToTokens(text, out _, considerPreTokenization: true, considerNormalization: true);

        // Each piece is encoded on its own, as the pretrained tokenizer does after pre-tokenizing; long ones in chunks.
        var tokens = new List<EncodedToken>();
        foreach (var (offset, length) in pieces)
        {
            int start = offset, end = offset + length;
            while (start < end)
            {
                int stop = ChunkEnd(text, start, end);
                foreach (var token in pretrained.EncodeToTokens(text[start..stop], out _, considerPreTokenization: false, considerNormalization: true))
                {
                    var range = new Range(token.Offset.Start.Value + start, token.Offset.End.Value + start);
                    tokens.Add(new EncodedToken(token.Id, token.Value, range));
                }

                start = stop;
            }
        }

        return tokens;
    }

    // The end of the longest run of whole characters from start (before end) of at most MaxPieceBytes UTF-8 bytes; at
    // least one character. A surrogate pair (one character, four bytes) is never cut.
    private static int ChunkEnd(string text, int start, int end)
    {
        int bytes = 0, i = start;
        while (i < end)
        {
            int width = char.IsHighSurrogate(text[i]) && i + 1 < end && char.IsLowSurrogate(text[i + 1]) ? 2 : 1;
            int size = Utf8Length(text.AsSpan(i, width));
            if (bytes + size > MaxPieceBytes && i > start)
                break;
            bytes += size;
            i += width;
        }

        return i;
    }

    private static int Utf8Length(ReadOnlySpan<char> text) => System.Text.Encoding.UTF8.GetByteCount(text);

    /// <inheritdoc />
    protected override string DecodeIds(IEnumerable<int> ids)
    {
        // Consecutive known ids are decoded together: one character's UTF-8 bytes may span several BPE tokens.
        var text = new System.Text.StringBuilder();
        var run = new List<int>();
        foreach (int id in ids)
        {
            CheckId(id);
            if (id >= SpecialTokenCount)
            {
                run.Add(originalIds[id - SpecialTokenCount]);
                continue;
            }

            if (id == UnkId)
            {
                text.Append(Pretrained.Value.Decode(run)).Append(UnknownText);
                run.Clear();
            }
        }

        return text.Append(Pretrained.Value.Decode(run)).ToString();
    }

    /// <inheritdoc />
    protected override void SaveContent(BinaryWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.Write(EncodingName);
        writer.Write(originalIds.Length);
        foreach (int id in originalIds)
            writer.Write(id);
    }

    internal static RestrictedTiktokenTokenizer LoadContent(BinaryReader reader)
    {
        string encoding = reader.ReadString();
        if (encoding != EncodingName)
            throw new InvalidDataException($"The saved tokenizer restricts '{encoding}', but only '{EncodingName}' is supported.");
        var ids = new int[ReadCount(reader, "o200k_base id count", sizeof(int), MaxVocabulary)];
        for (int i = 0; i < ids.Length; i++)
            ids[i] = reader.ReadInt32();
        return new RestrictedTiktokenTokenizer(ids);
    }
}
