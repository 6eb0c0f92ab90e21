using Microsoft.ML.Tokenizers;

namespace Transformer.MLNet.Network.Tokenization;

/// <summary>
/// One token per UTF-16 character, with the vocabulary of the characters of a training corpus (ordinal order)
/// after the four special tokens: the character-level setting of char-rnn and nanoGPT's tiny Shakespeare.
/// </summary>
public sealed class CharacterTokenizer : GenerationTokenizer
{
    internal const string KindName = "characters";

    private readonly char[] characters;
    private readonly Dictionary<char, int> ids;

    private CharacterTokenizer(char[] characters)
    {
        this.characters = characters;
        ids = new Dictionary<char, int>(characters.Length);
        for (int i = 0; i < characters.Length; i++)
        {
            if (!ids.TryAdd(characters[i], SpecialTokenCount + i))
                throw new InvalidDataException($"Character U+{(int)characters[i]:X4} appears twice in the vocabulary.");
        }
    }

    /// <summary>Builds the vocabulary from the distinct characters of a corpus.</summary>
    /// <param name="corpus">Training text.</param>
    /// <returns>The tokenizer.</returns>
    /// <exception cref="ArgumentException">The corpus is empty.</exception>
    public static CharacterTokenizer Train(string corpus)
    {
        ArgumentException.ThrowIfNullOrEmpty(corpus);
        char[] distinct = [.. corpus.Distinct().Order()];
        return new CharacterTokenizer(distinct);
    }

    /// <inheritdoc />
    public override int VocabSize => SpecialTokenCount + characters.Length;

    /// <inheritdoc />
    protected override string Kind => KindName;

    /// <inheritdoc />
    protected override EncodeResults<EncodedToken> EncodeToTokens(string? text, ReadOnlySpan<char> textSpan, EncodeSettings settings)
    {
        ReadOnlySpan<char> input = text is null ? textSpan : text.AsSpan();
        var tokens = new List<EncodedToken>(input.Length);
        for (int i = 0; i < input.Length; i++)
        {
            int id = ids.TryGetValue(input[i], out int known) ? known : UnkId;
            tokens.Add(new EncodedToken(id, input[i].ToString(), new Range(i, i + 1)));
        }

        return Limit(tokens, settings, input.Length);
    }

    /// <inheritdoc />
    protected override string DecodeIds(IEnumerable<int> ids)
    {
        var text = new System.Text.StringBuilder();
        foreach (int id in ids)
        {
            CheckId(id);
            if (id >= SpecialTokenCount)
                text.Append(characters[id - SpecialTokenCount]);
            else if (id == UnkId)
                text.Append(UnknownText);
        }

        return text.ToString();
    }

    /// <inheritdoc />
    protected override void SaveContent(BinaryWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.Write(characters.Length);
        foreach (char c in characters)
            writer.Write((ushort)c);
    }

    internal static CharacterTokenizer LoadContent(BinaryReader reader)
    {
        var characters = new char[reader.ReadInt32()];
        for (int i = 0; i < characters.Length; i++)
            characters[i] = (char)reader.ReadUInt16();
        return new CharacterTokenizer(characters);
    }
}
