using System.Text;
using Microsoft.ML.Tokenizers;

namespace Transformer.MLNet.Network.Tokenization;

/// <summary>
/// One token per Unicode character (scalar value: a surrogate pair is one token), with the vocabulary of the
/// characters of a training corpus (ordinal order) after the four special tokens: the character-level setting of
/// char-rnn and nanoGPT's tiny Shakespeare. Decoded text is always well-formed UTF-16; an unpaired surrogate in the
/// input reads as U+FFFD.
/// </summary>
/// <remarks>
/// A vocabulary of Basic Multilingual Plane characters only is saved in the original layout (one UTF-16 unit per
/// character), so such files read the same in earlier versions. A tokenizer saved by an earlier version whose
/// vocabulary holds surrogate halves keeps tokenizing by UTF-16 unit, as its model was trained; its decoded text
/// shows any surrogate left unpaired as U+FFFD.
/// </remarks>
public sealed class CharacterTokenizer : GenerationTokenizer
{
    internal const string KindName = "characters";

    /// <summary>Kind of a vocabulary with characters beyond the Basic Multilingual Plane (saved as scalar values).</summary>
    internal const string ScalarKindName = "characters-utf32";

    private const char Replacement = '\uFFFD';

    // The most characters a vocabulary can hold: every Unicode code point.
    private const int MaxCharacters = 0x110000;

    // Scalar values, or (perUnit) UTF-16 units, surrogate halves included.
    private readonly int[] characters;
    private readonly Dictionary<int, int> ids;
    private readonly bool perUnit;

    private CharacterTokenizer(int[] characters, bool perUnit)
    {
        this.characters = characters;
        this.perUnit = perUnit;
        ids = new Dictionary<int, int>(characters.Length);
        for (int i = 0; i < characters.Length; i++)
        {
            if (!perUnit && !Rune.IsValid(characters[i]))
                throw new InvalidDataException($"Character value {characters[i]} of the vocabulary is not a Unicode scalar value.");
            if (!ids.TryAdd(characters[i], SpecialTokenCount + i))
                throw new InvalidDataException($"Character U+{characters[i]:X4} appears twice in the vocabulary.");
        }
    }

    /// <summary>Builds the vocabulary from the distinct characters of a corpus.</summary>
    /// <param name="corpus">Training text.</param>
    /// <returns>The tokenizer.</returns>
    /// <exception cref="ArgumentNullException">The corpus is null.</exception>
    /// <exception cref="ArgumentException">The corpus is empty.</exception>
    public static CharacterTokenizer Train(string corpus)
    {
        ArgumentNullException.ThrowIfNull(corpus);
        if (corpus.Length == 0)
            throw new ArgumentException("The corpus has no characters: pass at least one non-empty text.", nameof(corpus));
        int[] distinct = [.. corpus.EnumerateRunes().Select(r => r.Value).Distinct().Order()];
        return new CharacterTokenizer(distinct, perUnit: false);
    }

    /// <inheritdoc />
    public override int VocabSize => SpecialTokenCount + characters.Length;

    /// <inheritdoc />
    protected override string Kind => perUnit || characters.All(c => c <= char.MaxValue) ? KindName : ScalarKindName;

    /// <inheritdoc />
    protected override EncodeResults<EncodedToken> EncodeToTokens(string? text, ReadOnlySpan<char> textSpan, EncodeSettings settings)
    {
        ReadOnlySpan<char> input = text is null ? textSpan : text.AsSpan();
        var tokens = new List<EncodedToken>(input.Length);
        for (int i = 0; i < input.Length;)
        {
            int value, length;
            if (perUnit)
            {
                (value, length) = (input[i], 1);
            }
            else
            {
                Rune.DecodeFromUtf16(input[i..], out Rune rune, out length);
                value = rune.Value;       // an unpaired surrogate decodes as U+FFFD
            }

            int id = ids.TryGetValue(value, out int known) ? known : UnkId;
            tokens.Add(new EncodedToken(id, input.Slice(i, length).ToString(), new Range(i, i + length)));
            i += length;
        }

        return Limit(tokens, settings, input.Length);
    }

    /// <inheritdoc />
    protected override string DecodeIds(IEnumerable<int> ids)
    {
        var text = new StringBuilder();
        foreach (int id in ids)
        {
            CheckId(id);
            if (id >= SpecialTokenCount)
            {
                int value = characters[id - SpecialTokenCount];
                if (perUnit)
                    text.Append((char)value);
                else
                    text.Append(new Rune(value).ToString());
            }
            else if (id == UnkId)
            {
                text.Append(UnknownText);
            }
        }

        if (perUnit)
            ReplaceUnpairedSurrogates(text);
        return text.ToString();
    }

    // Shows every surrogate that is not half of a pair as U+FFFD, so that decoded text is well-formed UTF-16.
    private static void ReplaceUnpairedSurrogates(StringBuilder text)
    {
        for (int i = 0; i < text.Length; i++)
        {
            if (char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
                i++;
            else if (char.IsSurrogate(text[i]))
                text[i] = Replacement;
        }
    }

    /// <inheritdoc />
    protected override void SaveContent(BinaryWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.Write(characters.Length);
        bool units = Kind == KindName;
        foreach (int c in characters)
        {
            if (units)
                writer.Write((ushort)c);
            else
                writer.Write(c);
        }
    }

    /// <summary>Reads the content of kind <see cref="KindName"/>: one UTF-16 unit per character.</summary>
    internal static CharacterTokenizer LoadContent(BinaryReader reader)
    {
        var characters = new int[ReadCount(reader, "character count", sizeof(ushort), MaxCharacters)];
        for (int i = 0; i < characters.Length; i++)
            characters[i] = reader.ReadUInt16();
        return new CharacterTokenizer(characters, perUnit: characters.Any(c => char.IsSurrogate((char)c)));
    }

    /// <summary>Reads the content of kind <see cref="ScalarKindName"/>: one scalar value per character.</summary>
    internal static CharacterTokenizer LoadScalarContent(BinaryReader reader)
    {
        var characters = new int[ReadCount(reader, "character count", sizeof(int), MaxCharacters)];
        for (int i = 0; i < characters.Length; i++)
            characters[i] = reader.ReadInt32();
        return new CharacterTokenizer(characters, perUnit: false);
    }

}
