using Microsoft.ML;
using Transformer.MLNet.Network.TokenClassification;
using Transformer.MLNet.Persistence;

namespace Transformer.MLNet.TokenClassification;

/// <summary>
/// Segment kind <c>Transformer.MLNet.TokenClassification</c>: <c>transformer.json</c> (column names, batch size) and
/// <c>classifier/</c> (the network as written by <see cref="TokenClassifier.Save"/>: Hugging Face <c>config.json</c>,
/// <c>vocab.txt</c>, <c>model.safetensors</c> with the encoder under <c>bert.*</c> and the head under <c>classifier.*</c>,
/// and <c>token_classifier.json</c> with the tags).
/// </summary>
internal sealed class TokenClassificationPersister : ITransformerPersister
{
    private const string StateEntry = "transformer.json", ClassifierPrefix = "classifier/";

    public string Kind => "Transformer.MLNet.TokenClassification";

    public bool CanSave(ITransformer transformer) => transformer is TokenClassificationTransformer;

    public void Save(ITransformer transformer, SegmentWriter segment)
    {
        var tagger = (TokenClassificationTransformer)transformer;
        segment.WriteJson(StateEntry, new State(tagger.InputColumnName, tagger.PredictedLabelColumnName, tagger.EntityColumnPrefix, tagger.BatchSize));
        using var use = tagger.EnterUse();
        using var folder = new TemporaryFolder();
        tagger.Classifier.Save(folder.Path);
        segment.WriteDirectory(ClassifierPrefix, folder.Path);
    }

    public ITransformer Load(SegmentReader segment)
    {
        var state = segment.ReadJson<State>(StateEntry);
        segment.Require(state.BatchSize >= 1, StateEntry, nameof(State.BatchSize), state.BatchSize, "must be at least 1");
        using var folder = new TemporaryFolder();
        segment.ExtractDirectory(ClassifierPrefix, folder.Path);
        var network = TokenClassifier.Load(folder.Path);
        try
        {
            return new TokenClassificationTransformer(network, state.TextColumnName, state.PredictedLabelColumnName, state.EntityColumnPrefix, state.BatchSize);
        }
        catch
        {
            network.Dispose();
            throw;
        }
    }

    private sealed record State(string TextColumnName, string PredictedLabelColumnName, string EntityColumnPrefix, int BatchSize);
}
