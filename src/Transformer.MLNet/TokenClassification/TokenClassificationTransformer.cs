using Microsoft.ML;
using Microsoft.ML.Data;
using Transformer.MLNet.Mapping;
using Transformer.MLNet.Network.TokenClassification;
using Transformer.MLNet.Network.Tokenization;
using Transformer.MLNet.Schema;

namespace Transformer.MLNet.TokenClassification;

/// <summary>A fitted token classifier: tags each word of a text (or of a vector of words) and lists the entities found.</summary>
/// <remarks>
/// | Output column | Type | Meaning |
/// |---|---|---|
/// | PredictedLabel | Vector&lt;Key&lt;UInt32, n&gt;&gt; with the label's KeyValues | one IOB2 tag per word, a valid sequence; <c>MapKeyToValue</c> names them |
/// | EntityType | Vector&lt;String&gt; | type of each entity ("PER", ...) |
/// | EntityText | Vector&lt;String&gt; | text of each entity, as written |
/// | EntityStart, EntityEnd | Vector&lt;Int32&gt; | character offsets of each entity in the input text, end exclusive |
/// | EntityScore | Vector&lt;Single&gt; | mean probability of each entity's tags |
///
/// Raw text is cut into words at whitespace, with each punctuation character a word of its own (BERT's
/// pre-tokenization); a vector of words is taken as given, and offsets then refer to the words joined by single spaces.
/// </remarks>
public sealed class TokenClassificationTransformer : TextMappingTransformer
{
    private protected override string InputOptionName => "TextColumnName";

    internal TokenClassificationTransformer(TokenClassifier classifier, string textColumnName, string predictedLabelColumnName, string entityColumnPrefix, int batchSize)
        : base(textColumnName, batchSize)
    {
        Classifier = classifier;
        PredictedLabelColumnName = predictedLabelColumnName;
        EntityColumnPrefix = entityColumnPrefix;
        OutputColumns = DefineOutputs(classifier.Labels, predictedLabelColumnName, entityColumnPrefix);
    }

    /// <summary>Name of the predicted tags column.</summary>
    public string PredictedLabelColumnName { get; }

    /// <summary>Prefix of the entity columns.</summary>
    public string EntityColumnPrefix { get; }

    /// <summary>The IOB2 tags, in key order (key 1 is the first).</summary>
    public IReadOnlyList<string> Labels => Classifier.Labels;

    /// <summary>Sentences tagged so far with more word pieces than the trainer's <c>MaxTokens</c>; their words past the limit were tagged <c>O</c>.</summary>
    public long TruncatedSentenceCount => Classifier.TruncatedSentenceCount;

    internal TokenClassifier Classifier { get; }

    private protected override Network.Export.OnnxExportManifest ExportOnnxCore(string folder) => Classifier.ExportOnnx(folder);

    internal override IReadOnlyList<OutputColumn> OutputColumns { get; }

    internal override bool AcceptsWords => true;

    /// <summary>The entity column names for a prefix: type, text, start, end, score.</summary>
    internal static string[] EntityColumns(string prefix) => [prefix + "Type", prefix + "Text", prefix + "Start", prefix + "End", prefix + "Score"];

    /// <summary>The added columns; each row's value is a <see cref="TaggedRow"/>.</summary>
    internal static IReadOnlyList<OutputColumn> DefineOutputs(IReadOnlyList<string> labels, string predictedLabel, string prefix)
    {
        string[] entity = EntityColumns(prefix);
        var keyValues = new DataViewSchema.Annotations.Builder();
        ScoreAnnotations.AddTextVector(keyValues, AnnotationNames.KeyValues, labels);
        return
        [
            OutputColumn.Vector<TaggedRow, uint>(predictedLabel, new KeyDataViewType(typeof(uint), labels.Count), 0, row => row.Keys, keyValues.ToAnnotations()),
            OutputColumn.TextVector<TaggedRow>(entity[0], row => row.Types),
            OutputColumn.TextVector<TaggedRow>(entity[1], row => row.Texts),
            OutputColumn.Vector<TaggedRow, int>(entity[2], NumberDataViewType.Int32, 0, row => row.Starts),
            OutputColumn.Vector<TaggedRow, int>(entity[3], NumberDataViewType.Int32, 0, row => row.Ends),
            OutputColumn.Vector<TaggedRow, float>(entity[4], NumberDataViewType.Single, 0, row => row.Scores),
        ];
    }

    /// <summary>Tags sentences directly: raw texts, each cut into words as the pipeline cuts them.</summary>
    /// <param name="texts">Raw texts.</param>
    /// <returns>The entities of each text, in order.</returns>
    public IReadOnlyList<Entity[]> FindEntities(IReadOnlyList<string> texts)
    {
        ArgumentNullException.ThrowIfNull(texts);
        for (int i = 0; i < texts.Count; i++)
        {
            if (texts[i] is null)
                throw new ArgumentException($"Text {i} is null; pass an empty string for an empty text.", nameof(texts));
        }

        using var use = EnterUse();
        return [.. Map(texts).Cast<TaggedRow>().Select(row => row.Entities())];
    }

    internal override IReadOnlyList<object> Map(IReadOnlyList<string> texts) => MapValues([.. texts]);

    internal override IReadOnlyList<object> MapValues(IReadOnlyList<object> values)
    {
        var sentences = values.Select(Sentence.From).ToArray();
        var tagged = Classifier.Predict([.. sentences.Select(s => s.Words)], BatchSize);
        return [.. sentences.Zip(tagged, TaggedRow.From)];
    }

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        if (disposing)
            Classifier.Dispose();
    }

    /// <summary>A sentence's text, its words and where each word is in the text.</summary>
    internal sealed record Sentence(string Text, string[] Words, int[] Starts)
    {
        public static Sentence From(object value)
        {
            if (value is string text)
            {
                var spans = WordSplitter.Split(text);
                return new Sentence(text, [.. spans.Select(s => text.Substring(s.Start, s.Length))], [.. spans.Select(s => s.Start)]);
            }

            var words = (string[])value;
            var starts = new int[words.Length];
            for (int w = 1; w < words.Length; w++)
                starts[w] = starts[w - 1] + words[w - 1].Length + 1;
            return new Sentence(string.Join(' ', words), words, starts);
        }
    }

    /// <summary>One row's output: the tags as 1-based keys and the entity columns.</summary>
    internal sealed record TaggedRow(uint[] Keys, string[] Types, string[] Texts, int[] Starts, int[] Ends, float[] Scores)
    {
        public static TaggedRow From(Sentence sentence, TaggedSentence tagged)
        {
            var entities = tagged.Entities;
            int[] starts = [.. entities.Select(e => sentence.Starts[e.FirstWord])];
            int[] ends = [.. entities.Select(e => sentence.Starts[e.EndWord - 1] + sentence.Words[e.EndWord - 1].Length)];
            return new TaggedRow(
                [.. tagged.Labels.Select(l => (uint)l + 1)],
                [.. entities.Select(e => e.Type)],
                [.. starts.Select((start, i) => sentence.Text[start..ends[i]])],
                starts,
                ends,
                [.. entities.Select(e => e.Score)]);
        }

        public Entity[] Entities() => [.. Types.Select((type, i) => new Entity(type, Starts[i], Ends[i], Texts[i], Scores[i]))];
    }
}
