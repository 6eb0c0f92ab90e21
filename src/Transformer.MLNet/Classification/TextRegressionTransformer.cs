using Transformer.MLNet.Mapping;
using Transformer.MLNet.Network.Classification;
using Transformer.MLNet.Schema;

namespace Transformer.MLNet.Classification;

/// <summary>
/// A fitted text regressor: adds the <c>Score</c> column <c>mlContext.Regression.Evaluate</c> reads. Trained on text
/// pairs it is a cross-encoder: it scores each (query, candidate) pair with one forward pass over both texts, and
/// <see cref="Rank"/> orders candidates for a query.
/// </summary>
/// <remarks>
/// | Output column | Type | Meaning |
/// |---|---|---|
/// | Score | Single | the prediction, in the training labels' units (e.g. 0–5 for STS-B ratings) |
/// </remarks>
public sealed class TextRegressionTransformer : TextClassificationTransformer
{
    internal TextRegressionTransformer(TextClassifier classifier, string textColumnName, string? secondTextColumnName, string scoreColumnName, int batchSize)
        : base(classifier, textColumnName, secondTextColumnName, scoreColumnName, ScoreColumnNames.PredictedLabel, batchSize)
    {
        if (!classifier.Settings.Regression)
            throw new ArgumentException("A text regressor needs a network with a regression head.", nameof(classifier));
        OutputColumns = ClassifierColumns.Regression(scoreColumnName);
    }

    internal override IReadOnlyList<OutputColumn> OutputColumns { get; }

    internal override float[] FromLogits(float[] logits) =>
        [(float)(logits[0] * Classifier.Settings.TargetScale + Classifier.Settings.TargetMean)];

    /// <summary>
    /// Scores every candidate against <paramref name="query"/> (the pair is <c>(query, candidate)</c>, as in training)
    /// and orders them, best first.
    /// </summary>
    /// <param name="query">The first text of every pair.</param>
    /// <param name="candidates">The second texts; none may be null or empty.</param>
    /// <param name="top">Keep this many of the best; null keeps all.</param>
    /// <returns>Each kept candidate's index in <paramref name="candidates"/> and its score, highest score first (ties by index).</returns>
    /// <exception cref="InvalidOperationException">The model was trained on single texts, not pairs.</exception>
    public IReadOnlyList<RankedCandidate> Rank(string query, IReadOnlyList<string> candidates, int? top = null)
    {
        ArgumentNullException.ThrowIfNull(query);
        ArgumentNullException.ThrowIfNull(candidates);
        if (SecondTextColumnName is null)
            throw new InvalidOperationException("Rank needs a model trained on text pairs (set SecondTextColumnName when training).");
        if (top is < 0)
            throw new ArgumentOutOfRangeException(nameof(top), top, "top must be 0 or more, or null for all candidates.");
        for (int i = 0; i < candidates.Count; i++)
        {
            if (string.IsNullOrWhiteSpace(candidates[i]))
                throw new ArgumentException($"Candidate {i} is null, empty or blank; every candidate needs a text (as every pair in a pipeline needs its second text).", nameof(candidates));
        }

        float[] scores;
        using (EnterUse())
            scores = MapPairs([.. Enumerable.Repeat(query, candidates.Count)], candidates).Select(row => ((float[])row)[0]).ToArray();
        return [.. Enumerable.Range(0, candidates.Count)
            .OrderByDescending(i => scores[i]).ThenBy(i => i)
            .Take(top ?? candidates.Count)
            .Select(i => new RankedCandidate(i, scores[i]))];
    }
}

/// <summary>One candidate of a ranking: its index in the list given and its score.</summary>
/// <param name="Index">Position in the candidates passed to <see cref="TextRegressionTransformer.Rank"/>.</param>
/// <param name="Score">The model's score of the (query, candidate) pair.</param>
public sealed record RankedCandidate(int Index, float Score);
