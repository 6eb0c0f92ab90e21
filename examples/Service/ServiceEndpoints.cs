using Microsoft.Extensions.AI;
using Microsoft.Extensions.Options;
using Transformer.MLNet.Network.Embeddings;

namespace Transformer.MLNet.Examples.Service;

/// <summary>The three model endpoints. Bad input is answered with 400 and RFC 7807 problem details naming the field.</summary>
public static class ServiceEndpoints
{
    /// <summary>HTTP 499 (nginx's "client closed request"): the caller is gone, nothing reads it; it marks the log line.</summary>
    private const int ClientClosedRequest = 499;

    /// <summary>Maps <c>POST /sentiment</c>, <c>POST /embed</c> and <c>POST /similar</c>.</summary>
    /// <param name="app">The application.</param>
    public static void MapServiceEndpoints(this IEndpointRouteBuilder app)
    {
        app.MapPost("/sentiment", Sentiment)
            .WithSummary("Sentiment of a batch of texts: label (positive or negative) and probability of positive.")
            .ProducesValidationProblem();
        app.MapPost("/embed", Embed)
            .WithSummary("Sentence embeddings of a batch of texts (unit length).")
            .ProducesValidationProblem();
        app.MapPost("/similar", Similar)
            .WithSummary("The candidates most similar to a query, by cosine similarity of their embeddings.")
            .ProducesValidationProblem();
    }

    private static async Task<IResult> Sentiment(TextsRequest? request, SentimentModel model, IOptions<ServiceOptions> options,
        ServiceStatistics statistics, CancellationToken cancellationToken)
    {
        if (Check(request?.Texts, "texts", options.Value) is { } problem)
            return problem;
        var texts = request!.Texts!.Select(t => t!).ToList();
        return await Cancellable(statistics, cancellationToken, async () =>
        {
            var predictions = await model.PredictAsync(texts, cancellationToken);
            statistics.AddClassified(texts.Count);
            return TypedResults.Ok(new SentimentResponse(predictions));
        });
    }

    private static async Task<IResult> Embed(TextsRequest? request, IEmbeddingGenerator<string, Embedding<float>> generator,
        IOptions<ServiceOptions> options, ServiceStatistics statistics, CancellationToken cancellationToken)
    {
        if (Check(request?.Texts, "texts", options.Value) is { } problem)
            return problem;
        var texts = request!.Texts!.Select(t => t!).ToList();
        return await Cancellable(statistics, cancellationToken, async () =>
        {
            var embeddings = await generator.GenerateAsync(texts, cancellationToken: cancellationToken);
            statistics.AddEmbedded(texts.Count);
            var metadata = generator.GetService<EmbeddingGeneratorMetadata>()!;
            return TypedResults.Ok(new EmbedResponse(metadata.DefaultModelId!, metadata.DefaultModelDimensions ?? 0,
                embeddings.Select(e => e.Vector.ToArray()).ToList()));
        });
    }

    private static async Task<IResult> Similar(SimilarRequest? request, IEmbeddingGenerator<string, Embedding<float>> generator,
        IOptions<ServiceOptions> options, ServiceStatistics statistics, CancellationToken cancellationToken)
    {
        var limits = options.Value;
        if (request is null)
            return Invalid("body", "Send a JSON object: {\"query\": \"...\", \"candidates\": [\"...\"], \"top\": 5}.");
        if (request.Query is null)
            return Invalid("query", "query is missing; send the text to compare the candidates with.");
        if (request.Query.Length > limits.MaxCharactersPerText)
            return Invalid("query", $"query has {request.Query.Length} characters; the limit is {limits.MaxCharactersPerText}.");
        if (Check(request.Candidates, "candidates", limits) is { } problem)
            return problem;
        if (request.Top is < 1)
            return Invalid("top", $"top is {request.Top}; ask for 1 or more hits (default 5).");

        var candidates = request.Candidates!.Select(t => t!).ToList();
        return await Cancellable(statistics, cancellationToken, async () =>
        {
            // One call for the query and the candidates: one trip through the gate, length-sorted batches.
            var embeddings = await generator.GenerateAsync([request.Query, .. candidates], cancellationToken: cancellationToken);
            statistics.AddEmbedded(candidates.Count + 1);
            var query = embeddings[0].Vector;
            var hits = candidates
                .Select((text, i) => new SimilarHit(i, text, EmbeddingSimilarity.Cosine(query.Span, embeddings[i + 1].Vector.Span)))
                .OrderByDescending(h => h.Score)
                .Take(request.Top ?? 5)
                .ToList();
            return TypedResults.Ok(new SimilarResponse(hits));
        });
    }

    /// <summary>A 400 for a list of texts that is missing, empty, too long, or holds a null or too long text.</summary>
    private static IResult? Check(IReadOnlyList<string?>? texts, string field, ServiceOptions limits)
    {
        if (texts is null)
            return Invalid(field, $"{field} is missing; send a JSON object with a \"{field}\" array of 1 to {limits.MaxTextsPerRequest} strings.");
        if (texts.Count == 0)
            return Invalid(field, $"{field} is empty; send 1 to {limits.MaxTextsPerRequest} texts.");
        if (texts.Count > limits.MaxTextsPerRequest)
            return Invalid(field, $"{field} has {texts.Count} texts; the limit is {limits.MaxTextsPerRequest} per request, so split the batch.");
        for (int i = 0; i < texts.Count; i++)
        {
            if (texts[i] is null)
                return Invalid($"{field}[{i}]", $"{field}[{i}] is null; send a string (an empty one is allowed).");
            if (texts[i]!.Length > limits.MaxCharactersPerText)
                return Invalid($"{field}[{i}]", $"{field}[{i}] has {texts[i]!.Length} characters; the limit is {limits.MaxCharactersPerText}.");
        }

        return null;
    }

    private static IResult Invalid(string field, string message) =>
        TypedResults.ValidationProblem(new Dictionary<string, string[]> { [field] = [message] }, detail: message);

    /// <summary>Runs <paramref name="work"/>; if the client goes away meanwhile, counts it and answers 499.</summary>
    private static async Task<IResult> Cancellable(ServiceStatistics statistics, CancellationToken cancellationToken, Func<Task<IResult>> work)
    {
        try
        {
            return await work();
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            statistics.AddCancelled();
            return TypedResults.StatusCode(ClientClosedRequest);
        }
    }
}
