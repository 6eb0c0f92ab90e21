using System.Buffers;
using Microsoft.ML.Tokenizers;

namespace Transformer.MLNet.Network.Tokenization;

/// <summary>
/// A Microsoft.ML.Tokenizers <see cref="Tokenizer"/> with the compact vocabulary a generative model is trained
/// on: ids 0–3 are the special tokens pad, bos, eos and unk; ordinary tokens follow. Encoding never adds special
/// tokens (the training and decoding code does); decoding drops pad, bos and eos and shows unk as U+FFFD.
/// </summary>
public abstract class GenerationTokenizer : Tokenizer
{
    /// <summary>Padding id (ignored by the loss and by attention).</summary>
    public const int PadId = 0;

    /// <summary>Beginning-of-sequence id: the first decoder input.</summary>
    public const int BosId = 1;

    /// <summary>End-of-sequence id: generation stops after it.</summary>
    public const int EosId = 2;

    /// <summary>Id of every token the vocabulary lacks.</summary>
    public const int UnkId = 3;

    /// <summary>How many special ids precede the ordinary tokens.</summary>
    public const int SpecialTokenCount = 4;

    /// <summary>What unknown tokens decode to.</summary>
    public const string UnknownText = "\uFFFD";

    /// <summary>Number of ids, special tokens included: the size of the model's embedding and output layers.</summary>
    public abstract int VocabSize { get; }

    /// <summary>The ids of a text, without special tokens.</summary>
    /// <param name="text">Any text.</param>
    /// <returns>The ids.</returns>
    public int[] Encode(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return [.. EncodeToIds(text)];
    }

    /// <summary>Writes the tokenizer so that <see cref="Load"/> rebuilds an identical one.</summary>
    /// <param name="writer">Destination.</param>
    public void Save(BinaryWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.Write(Kind);
        SaveContent(writer);
    }

    /// <summary>Reads a tokenizer written by <see cref="Save"/>.</summary>
    /// <param name="reader">Source.</param>
    /// <returns>The tokenizer.</returns>
    /// <exception cref="InvalidDataException">The data does not hold a known tokenizer kind.</exception>
    public static GenerationTokenizer Load(BinaryReader reader)
    {
        ArgumentNullException.ThrowIfNull(reader);
        string kind = reader.ReadString();
        return kind switch
        {
            RestrictedTiktokenTokenizer.KindName => RestrictedTiktokenTokenizer.LoadContent(reader),
            CharacterTokenizer.KindName => CharacterTokenizer.LoadContent(reader),
            CharacterTokenizer.ScalarKindName => CharacterTokenizer.LoadScalarContent(reader),
            _ => throw new InvalidDataException(
                $"Unknown tokenizer kind '{kind}' (known: {RestrictedTiktokenTokenizer.KindName}, {CharacterTokenizer.KindName}, {CharacterTokenizer.ScalarKindName}); the file is damaged or from a newer version."),
        };
    }

    /// <summary>
    /// Reads a count of <paramref name="field"/> written before that many items of <paramref name="bytesPerItem"/>
    /// bytes each, refusing a count that is negative, above <paramref name="maximum"/>, or (when the stream can seek)
    /// more than the rest of the stream holds: a damaged file must not size an allocation.
    /// </summary>
    /// <param name="reader">Source, positioned at the count.</param>
    /// <param name="field">What is counted, as the error names it (e.g. "character count").</param>
    /// <param name="bytesPerItem">Bytes each item takes in the stream.</param>
    /// <param name="maximum">The largest count a valid file holds.</param>
    /// <returns>The count.</returns>
    /// <exception cref="InvalidDataException">The count is out of range.</exception>
    internal static int ReadCount(BinaryReader reader, string field, int bytesPerItem, int maximum)
    {
        int count = reader.ReadInt32();
        if (count < 0 || count > maximum)
        {
            throw new InvalidDataException(
                $"The saved tokenizer's {field} is {count}; a valid one is between 0 and {maximum}. The file is damaged or is not a saved generative model.");
        }

        var stream = reader.BaseStream;
        if (stream.CanSeek && (long)count * bytesPerItem > stream.Length - stream.Position)
        {
            throw new InvalidDataException(
                $"The saved tokenizer's {field} is {count} ({(long)count * bytesPerItem} bytes), but only {Math.Max(0, stream.Length - stream.Position)} " +
                "bytes follow it. The file is truncated or damaged.");
        }

        return count;
    }

    /// <summary>Name written before the content, to pick the class on load.</summary>
    protected abstract string Kind { get; }

    /// <summary>Writes what <see cref="Load"/> needs to rebuild this tokenizer.</summary>
    /// <param name="writer">Destination.</param>
    protected abstract void SaveContent(BinaryWriter writer);

    /// <summary>The text of a sequence of ids, special tokens dropped and unknown ones shown as U+FFFD.</summary>
    /// <param name="ids">Token ids.</param>
    /// <returns>The text.</returns>
    protected abstract string DecodeIds(IEnumerable<int> ids);

    /// <inheritdoc />
    public override string Decode(IEnumerable<int> ids)
    {
        ArgumentNullException.ThrowIfNull(ids);
        return DecodeIds(ids);
    }

    /// <inheritdoc />
    public override OperationStatus Decode(IEnumerable<int> ids, Span<char> destination, out int idsConsumed, out int charsWritten)
    {
        ArgumentNullException.ThrowIfNull(ids);
        var list = ids as IReadOnlyCollection<int> ?? [.. ids];
        string text = DecodeIds(list);
        if (text.Length > destination.Length)
        {
            idsConsumed = 0;
            charsWritten = 0;
            return OperationStatus.DestinationTooSmall;
        }

        text.AsSpan().CopyTo(destination);
        idsConsumed = list.Count;
        charsWritten = text.Length;
        return OperationStatus.Done;
    }

    /// <summary>Checks that an id is inside the vocabulary, naming it otherwise.</summary>
    /// <param name="id">The id.</param>
    /// <exception cref="ArgumentOutOfRangeException">The id is negative or not below <see cref="VocabSize"/>.</exception>
    protected void CheckId(int id)
    {
        if ((uint)id >= (uint)VocabSize)
            throw new ArgumentOutOfRangeException(nameof(id), id, $"Token id {id} is outside this tokenizer's vocabulary (0..{VocabSize - 1}).");
    }

    /// <summary>Limits a token list to the settings' maximum count and reports the characters it covers.</summary>
    /// <param name="tokens">All tokens of the text.</param>
    /// <param name="settings">The caller's settings.</param>
    /// <param name="textLength">Length of the whole text.</param>
    /// <returns>The encode result.</returns>
    protected static EncodeResults<EncodedToken> Limit(List<EncodedToken> tokens, EncodeSettings settings, int textLength)
    {
        ArgumentNullException.ThrowIfNull(tokens);
        if (settings.MaxTokenCount > 0 && tokens.Count > settings.MaxTokenCount)
        {
            tokens.RemoveRange(settings.MaxTokenCount, tokens.Count - settings.MaxTokenCount);
            textLength = tokens.Count == 0 ? 0 : tokens[^1].Offset.End.Value;
        }

        return new EncodeResults<EncodedToken> { Tokens = tokens, CharsConsumed = textLength };
    }
}
