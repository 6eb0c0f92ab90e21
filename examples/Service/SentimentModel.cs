using System.Diagnostics;
using Microsoft.ML;
using Microsoft.ML.Data;
using Transformer.MLNet.Embeddings;
using Transformer.MLNet.Examples.Data;
using Transformer.MLNet.Persistence;
using Transformer.MLNet.Serving;

namespace Transformer.MLNet.Examples.Service;

/// <summary>
/// The sentiment pipeline (MiniLM sentence embeddings + SDCA logistic regression) loaded with <c>LoadPipeline</c>.
/// Predictions run as one batched <c>Transform</c> per request through the process's <see cref="ForwardPassGate"/>.
/// </summary>
public sealed class SentimentModel : IDisposable
{
    private readonly MLContext _mlContext = new(seed: 0);
    private readonly TransformerChain<ITransformer> _pipeline;
    private readonly ForwardPassGate _gate;

    private SentimentModel(TransformerChain<ITransformer> pipeline, string path, ForwardPassGate gate)
    {
        _pipeline = pipeline;
        _gate = gate;
        Path = path;
        Featurizer = pipeline.OfType<SentenceEmbeddingTransformer>().FirstOrDefault()
            ?? throw new InvalidDataException($"The pipeline in '{path}' has no sentence embedding step; delete the file to train a new one.");
    }

    /// <summary>The archive the pipeline came from.</summary>
    public string Path { get; }

    /// <summary>The pipeline's sentence embedding step (the embedding generator serves it too).</summary>
    public SentenceEmbeddingTransformer Featurizer { get; }

    /// <summary>Loads the pipeline at <paramref name="path"/>; if there is none, trains one, saves it there and says so.</summary>
    /// <param name="path">The archive.</param>
    /// <param name="gate">The process's forward-pass gate.</param>
    /// <param name="log">Where to say what happens.</param>
    public static SentimentModel LoadOrTrain(string path, ForwardPassGate gate, Action<string> log)
    {
        ArgumentNullException.ThrowIfNull(gate);
        ArgumentNullException.ThrowIfNull(log);
        if (!File.Exists(path))
            Train(path, log);
        var pipeline = new MLContext(seed: 0).Model.LoadPipeline(path, out _);
        log($"loaded the sentiment pipeline from {path}");
        return new SentimentModel(pipeline, path, gate);
    }

    /// <summary>Label and probability of each text, in order.</summary>
    /// <param name="texts">The texts (none null).</param>
    /// <param name="cancellationToken">Stops the wait for the gate; a started pass (one request's texts) completes.</param>
    public async Task<IReadOnlyList<SentimentPrediction>> PredictAsync(IReadOnlyList<string> texts, CancellationToken cancellationToken)
    {
        using (await _gate.EnterAsync(cancellationToken).ConfigureAwait(false))
        {
            cancellationToken.ThrowIfCancellationRequested();
            return await Task.Run(() => Predict(texts), CancellationToken.None).ConfigureAwait(false);
        }
    }

    /// <summary>The same prediction without the gate or a thread hop: the in-process reference of the load benchmark.</summary>
    /// <param name="texts">The texts (none null).</param>
    public IReadOnlyList<SentimentPrediction> Predict(IReadOnlyList<string> texts)
    {
        // One IDataView per request: the featurizer reads all rows ahead and encodes them in length-sorted batches.
        var input = _mlContext.Data.LoadFromEnumerable(texts.Select(t => new TextRow { Text = t }));
        var scored = _mlContext.Data.CreateEnumerable<ScoredRow>(_pipeline.Transform(input), reuseRowObject: false);
        return scored.Select(r => new SentimentPrediction(r.PredictedLabel ? "positive" : "negative", r.Probability)).ToList();
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        foreach (var step in _pipeline.OfType<IDisposable>())
            step.Dispose();
    }

    // Short on purpose: frozen embeddings and a linear model, about a minute on 2 cores; examples/Sentiment fine-tunes.
    private static void Train(string path, Action<string> log)
    {
        log($"no sentiment model at {path}: training one now (frozen MiniLM embeddings + SDCA on UCI yelp, 1,000 sentences) and saving it there; later runs load it");
        var clock = Stopwatch.StartNew();
        var mlContext = new MLContext(seed: 0);
        var rows = UciSentiment.Read("yelp").Select(s => new LabelledRow { Text = s.Text, Label = s.Positive }).ToList();
        var data = mlContext.Data.LoadFromEnumerable(rows);
        var split = mlContext.Data.TrainTestSplit(data, testFraction: 0.2, seed: 0);
        var pipeline = mlContext.Transforms.Text.ApplySentenceEmbedding("Features", nameof(LabelledRow.Text))
            .AppendCacheCheckpoint(mlContext)
            .Append(mlContext.BinaryClassification.Trainers.SdcaLogisticRegression());
        var model = pipeline.Fit(split.TrainSet);
        var metrics = mlContext.BinaryClassification.Evaluate(model.Transform(split.TestSet));
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path))!);
        // Written beside and moved into place, so that a crash or a second process never sees half an archive.
        string partial = $"{path}.{Environment.ProcessId}.partial";
        mlContext.Model.SavePipeline(model, data.Schema, partial);
        File.Move(partial, path, overwrite: true);
        foreach (var step in model.OfType<IDisposable>())
            step.Dispose();
        log($"trained and saved in {clock.Elapsed.TotalSeconds:F0} s: held-out accuracy {metrics.Accuracy:F3}, AUC {metrics.AreaUnderRocCurve:F3}");
    }

    private sealed class TextRow
    {
        public string Text { get; set; } = "";
    }

    private sealed class LabelledRow
    {
        public string Text { get; set; } = "";

        public bool Label { get; set; }
    }

    private sealed class ScoredRow
    {
        public bool PredictedLabel { get; set; }

        public float Probability { get; set; }
    }
}
