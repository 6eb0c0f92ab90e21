using Microsoft.ML;
using Microsoft.ML.Data;
using Transformer.MLNet.Mapping;
using Transformer.MLNet.Network.TokenClassification;
using Transformer.MLNet.Schema;

namespace Transformer.MLNet.TokenClassification;

/// <summary>Sentences as words with one tag index per word, read from a data view: the managed input of the network's trainer.</summary>
internal sealed record TaggedSentences(string[][] Words, int[][] Labels, string[] TagNames)
{
    /// <summary>
    /// Reads the text (or words) column and the label column (a vector of keys whose key values are the IOB2 tags).
    /// Errors name the row: words and labels that differ in count, a missing (unknown) label, an empty sentence.
    /// </summary>
    public static TaggedSentences Read(IDataView data, string textColumnName, string labelColumnName)
    {
        var text = TextColumn.Find(data.Schema, textColumnName, nameof(TokenClassifierOptions.TextColumnName), allowWords: true);
        var label = FindLabel(data.Schema, labelColumnName, nameof(TokenClassifierOptions.LabelColumnName));
        string[] tagNames = ReadTagNames(label);
        var words = new List<string[]>();
        var labels = new List<int[]>();
        using var cursor = data.GetRowCursor([text, label]);
        var readValue = TextColumn.ValueReader(cursor, text);
        var readLabel = cursor.GetGetter<VBuffer<uint>>(label);
        VBuffer<uint> keys = default;
        long row = -1;
        while (cursor.MoveNext())
        {
            row++;
            var sentence = TokenClassificationTransformer.Sentence.From(readValue());
            readLabel(ref keys);
            var tags = keys.DenseValues().ToArray();
            if (sentence.Words.Length == 0)
            {
                throw new ArgumentException(
                    $"Row {row}: column '{textColumnName}' has no words. Remove empty sentences from the training data.", nameof(data));
            }

            if (sentence.Words.Length != tags.Length)
            {
                throw new ArgumentException(
                    $"Row {row}: column '{textColumnName}' has {sentence.Words.Length} words but column '{labelColumnName}' has {tags.Length} labels; give one label per word." +
                    (readValue() is string ? " Raw text is cut at whitespace and each punctuation character is a word of its own; pass a vector of words to cut it yourself." : ""),
                    nameof(data));
            }

            int missing = Array.IndexOf(tags, 0u);
            if (missing >= 0)
            {
                throw new ArgumentException(
                    $"Row {row}: the label of word {missing} ('{sentence.Words[missing]}') in column '{labelColumnName}' is missing (key 0): a tag its key mapping " +
                    "does not know. Fit MapValueToKey on data that has every tag, or use the same fitted mapping for training and validation data.", nameof(data));
            }

            words.Add(sentence.Words);
            labels.Add([.. tags.Select(k => (int)k - 1)]);
        }

        return new TaggedSentences([.. words], [.. labels], tagNames);
    }

    /// <summary>A vector-of-keys label column, or an error that says how to make one.</summary>
    public static DataViewSchema.Column FindLabel(DataViewSchema schema, string name, string optionName)
    {
        var label = schema.GetColumnOrNull(name)
            ?? throw new ArgumentOutOfRangeException(optionName,
                $"Label column '{name}' ({optionName}) is not in the data. Columns: {string.Join(", ", schema.Where(c => !c.IsHidden).Select(c => c.Name))}.");
        if (label.Type is not VectorDataViewType { ItemType: KeyDataViewType { RawType: var raw, Count: > 0 and <= int.MaxValue } } || raw != typeof(uint))
        {
            throw new ArgumentOutOfRangeException(optionName,
                $"Label column '{name}' ({optionName}) must be a vector of UInt32 keys, one IOB2 tag per word, but is {label.Type}. " +
                $"Load the tags as a vector of String and add mlContext.Transforms.Conversion.MapValueToKey(\"{name}\") before the trainer.");
        }

        return label;
    }

    /// <summary>The tag of each key of a label column (its key values), checked to be IOB2.</summary>
    public static string[] ReadTagNames(DataViewSchema.Column label)
    {
        int count = (int)((KeyDataViewType)((VectorDataViewType)label.Type).ItemType).Count;
        string[] names = ScoreAnnotations.ClassNames(label, count);
        try
        {
            new TokenClassifierSettings(names, MaxTokens: 3, Dropout: 0).Validate();
        }
        catch (ArgumentException e)
        {
            throw new ArgumentException(
                $"Label column '{label.Name}' (key values {string.Join(", ", names)}) cannot be tagged as IOB2: {e.Message} Convert other schemes (IO, BIOES) to IOB2 first.",
                nameof(label), e);
        }

        return names;
    }
}
