using Microsoft.ML.Tokenizers;

namespace Transformer.MLNet.Network.Tokenization;

/// <summary>
/// OpenAI's pretrained byte-level BPE <c>o200k_base</c> (Microsoft.ML.Tokenizers' Tiktoken, data from
/// Microsoft.ML.Tokenizers.Data.O200kBase) with its 200k vocabulary restricted to the ids that occur in a
/// training corpus and renumbered compactly after the four special tokens, so that embedding tables stay small.
/// Text whose BPE tokens all occurred in the corpus decodes back exactly; any other token becomes unk.
/// </summary>
public sealed class RestrictedTiktokenTokenizer : GenerationTokenizer
{
    internal const string KindName = "tiktoken-restricted";

    /// <summary>The pretrained encoding this tokenizer restricts.</summary>
    public const string EncodingName = "o200k_base";

    private static readonly Lazy<TiktokenTokenizer> Pretrained = new(() => TiktokenTokenizer.CreateForEncoding(EncodingName));

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

        var counts = new Dictionary<int, int>();
        foreach (string text in corpus)
        {
            foreach (int id in Pretrained.Value.EncodeToIds(text ?? ""))
                counts[id] = counts.GetValueOrDefault(id) + 1;
        }

        if (counts.Count == 0)
            throw new ArgumentException("The corpus has no tokens: pass at least one non-empty text.", nameof(corpus));

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
        foreach (var token in Pretrained.Value.EncodeToTokens(input, out _, considerPreTokenization: true, considerNormalization: true))
        {
            int id = compactIds.TryGetValue(token.Id, out int compact) ? compact : UnkId;
            tokens.Add(new EncodedToken(id, token.Value, token.Offset));
        }

        return Limit(tokens, settings, input.Length);
    }

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
        var ids = new int[reader.ReadInt32()];
        for (int i = 0; i < ids.Length; i++)
            ids[i] = reader.ReadInt32();
        return new RestrictedTiktokenTokenizer(ids);
    }
}
