using Microsoft.ML;
using Transformer.MLNet.Network.Classification;
using Transformer.MLNet.Persistence;

namespace Transformer.MLNet.Classification;

/// <summary>
/// Segment kinds <c>Transformer.MLNet.BinaryTextClassification</c> and <c>Transformer.MLNet.MulticlassTextClassification</c>:
/// <c>transformer.json</c> (column names, batch size, class names) and <c>classifier/</c> (the network as written by
/// <see cref="TextClassifier.Save"/>: Hugging Face <c>config.json</c>, <c>vocab.txt</c>, <c>model.safetensors</c> with the
/// encoder under <c>bert.*</c> and the head under <c>classifier.*</c>, and <c>classifier.json</c>).
/// </summary>
internal sealed class TextClassificationPersister(bool multiclass) : ITransformerPersister
{
    private const string StateEntry = "transformer.json", ClassifierPrefix = "classifier/";

    public string Kind => multiclass ? "Transformer.MLNet.MulticlassTextClassification" : "Transformer.MLNet.BinaryTextClassification";

    public bool CanSave(ITransformer transformer) =>
        multiclass ? transformer is MulticlassTextClassificationTransformer : transformer is BinaryTextClassificationTransformer;

    public void Save(ITransformer transformer, SegmentWriter segment)
    {
        var classifier = (TextClassificationTransformer)transformer;
        segment.WriteJson(StateEntry, new State(
            classifier.InputColumnName,
            classifier.ScoreColumnName,
            (classifier as BinaryTextClassificationTransformer)?.ProbabilityColumnName,
            classifier.PredictedLabelColumnName,
            classifier.BatchSize,
            (classifier as MulticlassTextClassificationTransformer)?.ClassNames.ToArray()));
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
            if (multiclass)
            {
                var names = state.ClassNames ?? throw new InvalidDataException($"{StateEntry} of a multiclass classifier lists no class names.");
                return new MulticlassTextClassificationTransformer(network, names, state.TextColumnName, state.ScoreColumnName, state.PredictedLabelColumnName, state.BatchSize);
            }

            return new BinaryTextClassificationTransformer(
                network, state.TextColumnName, state.ScoreColumnName,
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
        string TextColumnName, string ScoreColumnName, string? ProbabilityColumnName, string PredictedLabelColumnName, int BatchSize, string[]? ClassNames);
}
