namespace Transformer.MLNet.Examples.Service;

/// <summary>Body of <c>POST /sentiment</c> and <c>POST /embed</c>.</summary>
/// <param name="Texts">The texts, 1 to <see cref="ServiceOptions.MaxTextsPerRequest"/>, each at most
/// <see cref="ServiceOptions.MaxCharactersPerText"/> characters.</param>
public sealed record TextsRequest(IReadOnlyList<string?>? Texts);

/// <summary>One text's sentiment.</summary>
/// <param name="Label"><c>positive</c> or <c>negative</c>.</param>
/// <param name="Probability">Calibrated probability that the text is positive.</param>
public sealed record SentimentPrediction(string Label, float Probability);

/// <summary>Answer of <c>POST /sentiment</c>: one prediction per text, in order.</summary>
/// <param name="Predictions">The predictions.</param>
public sealed record SentimentResponse(IReadOnlyList<SentimentPrediction> Predictions);

/// <summary>Answer of <c>POST /embed</c>: one unit-length vector per text, in order.</summary>
/// <param name="Model">The embedding model id.</param>
/// <param name="Dimensions">Length of each vector.</param>
/// <param name="Embeddings">The vectors.</param>
public sealed record EmbedResponse(string Model, int Dimensions, IReadOnlyList<float[]> Embeddings);

/// <summary>Body of <c>POST /similar</c>: rank <paramref name="Candidates"/> by similarity to <paramref name="Query"/>.</summary>
/// <param name="Query">The query text.</param>
/// <param name="Candidates">The texts to rank (same limits as <see cref="TextsRequest.Texts"/>).</param>
/// <param name="Top">How many hits to return, 1 or more (default 5; at most the number of candidates).</param>
public sealed record SimilarRequest(string? Query, IReadOnlyList<string?>? Candidates, int? Top);

/// <summary>One candidate and its cosine similarity to the query.</summary>
/// <param name="Index">Position of the candidate in the request.</param>
/// <param name="Text">The candidate.</param>
/// <param name="Score">Cosine similarity, in [-1, 1].</param>
public sealed record SimilarHit(int Index, string Text, double Score);

/// <summary>Answer of <c>POST /similar</c>: the best candidates, most similar first.</summary>
/// <param name="Hits">The hits.</param>
public sealed record SimilarResponse(IReadOnlyList<SimilarHit> Hits);
