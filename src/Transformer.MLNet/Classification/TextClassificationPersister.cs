using Microsoft.ML;
using Transformer.MLNet.Network.Classification;
using Transformer.MLNet.Persistence;

namespace Transformer.MLNet.Classification;

/// <summary>
/// Segment kinds <c>Transformer.MLNet.BinaryTextClassification</c>, <c>Transformer.MLNet.MulticlassTextClassification</c> and
/// <c>Transformer.MLNet.TextRegression</c>: <c>transformer.json</c> (column names, second text column of pairs, batch size, class names) and <c>classifier/</c> (the network as written by
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
        segment.WriteJson(StateEntry, new State(
            classifier.InputColumnName,
            classifier.ScoreColumnName,
            (classifier as BinaryTextClassificationTransformer)?.ProbabilityColumnName,
            classifier.PredictedLabelColumnName,
            classifier.BatchSize,
            (classifier as MulticlassTextClassificationTransformer)?.ClassNames.ToArray())
        {
            SecondTextColumnName = classifier.SecondTextColumnName,
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
                    network, names, state.TextColumnName, state.SecondTextColumnName, state.ScoreColumnName, state.PredictedLabelColumnName, state.BatchSize);
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

    private sealed record State(
        string TextColumnName, string ScoreColumnName, string? ProbabilityColumnName, string PredictedLabelColumnName, int BatchSize, string[]? ClassNames)
    {
        /// <summary>The second text column of a pair model; absent (null) in archives of single-text models.</summary>
        public string? SecondTextColumnName { get; init; }
    }
}

/// <summary>Which fitted text model a <see cref="TextClassificationPersister"/> saves.</summary>
internal enum TextModelKind
{
    Binary,
    Multiclass,
    Regression,
}
