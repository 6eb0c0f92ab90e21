using System.Text.Json.Serialization;
using Microsoft.ML;
using Transformer.MLNet.Network.Classification;
using Transformer.MLNet.Persistence;
using Transformer.MLNet.Schema;

namespace Transformer.MLNet.Classification;

/// <summary>
/// Segment kinds <c>Transformer.MLNet.BinaryTextClassification</c>, <c>Transformer.MLNet.MulticlassTextClassification</c> and
/// <c>Transformer.MLNet.TextRegression</c>: <c>transformer.json</c> (column names, second text column of pairs, batch size, class names;
/// for a multiclass label whose key values are not text, their type and the values as text that reads back exactly) and <c>classifier/</c> (the network as written by
/// <see cref="TextClassifier.Save"/>: Hugging Face <c>config.json</c>, <c>vocab.txt</c>, <c>model.safetensors</c> with the
/// encoder under <c>bert.*</c> and the head under <c>classifier.*</c>, and <c>classifier.json</c>).
/// </summary>
internal sealed class TextClassificationPersister(TextModelKind kind) : ITransformerPersister
{
    private const string StateEntry = "transformer.json", ClassifierPrefix = "classifier/";

    public string Kind => kind switch
    {
        TextModelKind.Multiclass => "Transformer.MLNet.MulticlassTextClassification",
        TextModelKind.Regression => "Transformer.MLNet.TextRegression",
        _ => "Transformer.MLNet.BinaryTextClassification",
    };

    public bool CanSave(ITransformer transformer) => kind switch
    {
        TextModelKind.Multiclass => transformer is MulticlassTextClassificationTransformer,
        TextModelKind.Regression => transformer is TextRegressionTransformer,
        _ => transformer is BinaryTextClassificationTransformer,
    };

    public void Save(ITransformer transformer, SegmentWriter segment)
    {
        var classifier = (TextClassificationTransformer)transformer;
        // Text key values are the class names: archives of text labels stay as they were before typed key values.
        var typed = (classifier as MulticlassTextClassificationTransformer)?.KeyValues is { IsText: false } keyValues ? keyValues : null;
        segment.WriteJson(StateEntry, new State(
            classifier.InputColumnName,
            classifier.ScoreColumnName,
            (classifier as BinaryTextClassificationTransformer)?.ProbabilityColumnName,
            classifier.PredictedLabelColumnName,
            classifier.BatchSize,
            (classifier as MulticlassTextClassificationTransformer)?.ClassNames.ToArray())
        {
            SecondTextColumnName = classifier.SecondTextColumnName,
            KeyValueType = typed?.TypeName,
            KeyValues = typed is null ? null : [.. typed.Format()],
        });
        using var use = classifier.EnterUse();
        using var folder = new TemporaryFolder();
        classifier.Classifier.Save(folder.Path);
        segment.WriteDirectory(ClassifierPrefix, folder.Path);
    }

    public ITransformer Load(SegmentReader segment)
    {
        var state = segment.ReadJson<State>(StateEntry);
        segment.Require(state.BatchSize >= 1, StateEntry, nameof(State.BatchSize), state.BatchSize, "must be at least 1");
        using var folder = new TemporaryFolder();
        segment.ExtractDirectory(ClassifierPrefix, folder.Path);
        var network = TextClassifier.Load(folder.Path);
        try
        {
            if (kind == TextModelKind.Regression)
                return new TextRegressionTransformer(network, state.TextColumnName, state.SecondTextColumnName, state.ScoreColumnName, state.BatchSize);
            if (kind == TextModelKind.Multiclass)
            {
                var names = state.ClassNames ?? throw new InvalidDataException($"{StateEntry} of a multiclass classifier lists no class names.");
                return new MulticlassTextClassificationTransformer(
                    network, ReadKeyValues(segment, state, names), state.TextColumnName, state.SecondTextColumnName, state.ScoreColumnName, state.PredictedLabelColumnName, state.BatchSize);
            }

            return new BinaryTextClassificationTransformer(
                network, state.TextColumnName, state.SecondTextColumnName, state.ScoreColumnName,
                state.ProbabilityColumnName ?? throw new InvalidDataException($"{StateEntry} of a binary classifier names no probability column."),
                state.PredictedLabelColumnName, state.BatchSize);
        }
        catch
        {
            network.Dispose();
            throw;
        }
    }

    /// <summary>The key values of a multiclass classifier: typed where the entry names a type, else (as before typed key values) the class names.</summary>
    private static ClassKeyValues ReadKeyValues(SegmentReader segment, State state, string[] names)
    {
        if (state.KeyValueType is null && state.KeyValues is null)
            return ClassKeyValues.Text(names);
        string type = state.KeyValueType ?? "null";
        segment.Require(ClassKeyValues.TypeNames.Contains(type), StateEntry, nameof(State.KeyValueType), type,
            $"must be one of {string.Join(", ", ClassKeyValues.TypeNames)}");
        string[] values = state.KeyValues ?? [];
        segment.Require(state.KeyValues is not null && values.Length == names.Length, StateEntry, nameof(State.KeyValues),
            state.KeyValues is null ? "null" : $"{values.Length} values",
            $"must list one {type} per class name ({names.Length})");
        ClassKeyValues.TryParse(type, values, names, out var keyValues, out string? invalid);
        segment.Require(keyValues is not null, StateEntry, nameof(State.KeyValues), $"[... \"{invalid}\" ...]",
            $"each must be a {type} in invariant culture");
        return keyValues;
    }

    private sealed record State(
        string TextColumnName, string ScoreColumnName, string? ProbabilityColumnName, string PredictedLabelColumnName, int BatchSize, string[]? ClassNames)
    {
        /// <summary>The second text column of a pair model; absent (null) in archives of single-text models.</summary>
        public string? SecondTextColumnName { get; init; }

        /// <summary>
        /// The item type of a multiclass classifier's key values (<see cref="ClassKeyValues.TypeNames"/>) when they are
        /// not text; absent otherwise, and in archives saved before key values kept their type.
        /// </summary>
        [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
        public string? KeyValueType { get; init; }

        /// <summary>The key values of type <see cref="KeyValueType"/>, in key order, as text that reads back exactly.</summary>
        [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
        public string[]? KeyValues { get; init; }
    }
}

/// <summary>Which fitted text model a <see cref="TextClassificationPersister"/> saves.</summary>
internal enum TextModelKind
{
    Binary,
    Multiclass,
    Regression,
}
