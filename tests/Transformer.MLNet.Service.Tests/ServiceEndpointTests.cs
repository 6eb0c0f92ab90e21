using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using Transformer.MLNet.Examples.Service;
using Transformer.MLNet.Serving;

namespace Transformer.MLNet.Service.Tests;

/// <summary>
/// The example service in memory: every endpoint answers real content, every bad request a 400 with problem details,
/// and a request whose client goes away stops its work. The sentiment model is trained on the first run (about a
/// minute) and reused afterwards.
/// </summary>
[TestClass]
public sealed class ServiceEndpointTests
{
    private const int MaxTexts = 8, MaxCharacters = 200;
    private static WebApplicationFactory<Program> factory = null!;
    private static HttpClient client = null!;

    public TestContext TestContext { get; set; } = null!;

    [ClassInitialize]
    public static void Initialize(TestContext context)
    {
        factory = new WebApplicationFactory<Program>().WithWebHostBuilder(web =>
        {
            web.UseSetting("Service:MaxTextsPerRequest", MaxTexts.ToString(System.Globalization.CultureInfo.InvariantCulture));
            web.UseSetting("Service:MaxCharactersPerText", MaxCharacters.ToString(System.Globalization.CultureInfo.InvariantCulture));
        });
        client = factory.CreateClient();
    }

    [ClassCleanup]
    public static void Cleanup()
    {
        client?.Dispose();
        factory?.Dispose();
    }

    [TestMethod]
    public async Task Health_and_the_OpenAPI_document_describe_the_service()
    {
        var health = await client.GetAsync("/health", TestContext.CancellationToken);
        Assert.AreEqual(HttpStatusCode.OK, health.StatusCode);
        Assert.AreEqual("Healthy", await health.Content.ReadAsStringAsync(TestContext.CancellationToken));

        using var openApi = JsonDocument.Parse(await client.GetStringAsync("/openapi/v1.json", TestContext.CancellationToken));
        var paths = openApi.RootElement.GetProperty("paths");
        foreach (string path in new[] { "/sentiment", "/embed", "/similar" })
            Assert.IsTrue(paths.TryGetProperty(path, out var item) && item.TryGetProperty("post", out _), $"{path} is documented as POST");
    }

    [TestMethod]
    public async Task Sentiment_labels_a_batch_of_clear_reviews()
    {
        var response = await client.PostAsJsonAsync("/sentiment", new TextsRequest(
        [
            "The food was wonderful and the staff were lovely.",
            "Terrible service, cold food, and we waited an hour. Never again.",
            "Best burger I have had in years!",
        ]), TestContext.CancellationToken);
        Assert.AreEqual(HttpStatusCode.OK, response.StatusCode);
        var body = await response.Content.ReadFromJsonAsync<SentimentResponse>(TestContext.CancellationToken);
        CollectionAssert.AreEqual(new[] { "positive", "negative", "positive" }, body!.Predictions.Select(p => p.Label).ToArray());
        Assert.IsGreaterThan(0.5f, body.Predictions[0].Probability);
        Assert.IsLessThan(0.5f, body.Predictions[1].Probability);
    }

    [TestMethod]
    public async Task Embed_returns_the_generator_vectors_in_order()
    {
        string[] texts = ["A man is playing a guitar.", "Someone plays music.", ""];
        var response = await client.PostAsJsonAsync("/embed", new TextsRequest(texts), TestContext.CancellationToken);
        Assert.AreEqual(HttpStatusCode.OK, response.StatusCode);
        var body = await response.Content.ReadFromJsonAsync<EmbedResponse>(TestContext.CancellationToken);
        Assert.AreEqual(ServiceApplication.EmbeddingModelId, body!.Model);
        Assert.AreEqual(384, body.Dimensions);
        Assert.HasCount(3, body.Embeddings);

        var generator = factory.Services.GetRequiredService<IEmbeddingGenerator<string, Embedding<float>>>();
        var direct = await generator.GenerateAsync(texts, cancellationToken: TestContext.CancellationToken);
        for (int i = 0; i < texts.Length; i++)
            CollectionAssert.AreEqual(direct[i].Vector.ToArray(), body.Embeddings[i], $"text {i}: JSON round trip of floats is exact");
    }

    [TestMethod]
    public async Task Similar_ranks_the_paraphrase_first()
    {
        var response = await client.PostAsJsonAsync("/similar", new SimilarRequest("How do I reset my password?",
            ["The weather is sunny today.", "Steps to change a forgotten password", "Password managers compared", "I like trains."], Top: 2),
            TestContext.CancellationToken);
        Assert.AreEqual(HttpStatusCode.OK, response.StatusCode);
        var body = await response.Content.ReadFromJsonAsync<SimilarResponse>(TestContext.CancellationToken);
        Assert.HasCount(2, body!.Hits);
        Assert.AreEqual(1, body.Hits[0].Index);
        Assert.AreEqual("Steps to change a forgotten password", body.Hits[0].Text);
        Assert.IsGreaterThanOrEqualTo(body.Hits[1].Score, body.Hits[0].Score);
        Assert.IsGreaterThan(0.5, body.Hits[0].Score);
    }

    public static IEnumerable<object[]> BadRequests()
    {
        string tooLong = new('x', MaxCharacters + 1);
        string many = JsonSerializer.Serialize(Enumerable.Repeat("a", MaxTexts + 1));
        foreach (string path in new[] { "/sentiment", "/embed" })
        {
            yield return [path, "{\"texts\": [\"unterminated", "malformed JSON"];
            yield return [path, "", "empty body"];
            yield return [path, "{}", "no texts"];
            yield return [path, "{\"texts\": []}", "empty texts"];
            yield return [path, "{\"texts\": 5}", "texts not an array"];
            yield return [path, "{\"texts\": [\"fine\", null]}", "a null text"];
            yield return [path, "{\"texts\": [\"fine\", 3]}", "a number for a text"];
            yield return [path, $"{{\"texts\": {many}}}", "too many texts"];
            yield return [path, $"{{\"texts\": [\"{tooLong}\"]}}", "too long a text"];
        }

        yield return ["/similar", "[1, 2", "malformed JSON"];
        yield return ["/similar", "", "empty body"];
        yield return ["/similar", "{\"candidates\": [\"a\"]}", "no query"];
        yield return ["/similar", "{\"query\": \"q\"}", "no candidates"];
        yield return ["/similar", "{\"query\": \"q\", \"candidates\": []}", "empty candidates"];
        yield return ["/similar", $"{{\"query\": \"q\", \"candidates\": {many}}}", "too many candidates"];
        yield return ["/similar", $"{{\"query\": \"{tooLong}\", \"candidates\": [\"a\"]}}", "too long a query"];
        yield return ["/similar", "{\"query\": \"q\", \"candidates\": [\"a\"], \"top\": 0}", "top 0"];
    }

    [TestMethod]
    [DynamicData(nameof(BadRequests))]
    public async Task Bad_requests_get_400_with_problem_details(string path, string json, string what)
    {
        using var content = new StringContent(json, Encoding.UTF8, "application/json");
        var response = await client.PostAsync(path, content, TestContext.CancellationToken);
        string body = await response.Content.ReadAsStringAsync(TestContext.CancellationToken);
        Assert.AreEqual(HttpStatusCode.BadRequest, response.StatusCode, $"{what}: {body}");
        Assert.AreEqual("application/problem+json", response.Content.Headers.ContentType?.MediaType, $"{what}: {body}");
        using var problem = JsonDocument.Parse(body);
        Assert.AreEqual(400, problem.RootElement.GetProperty("status").GetInt32(), what);
        Assert.IsTrue(problem.RootElement.TryGetProperty("title", out _), what);
        Assert.IsFalse(string.IsNullOrWhiteSpace(problem.RootElement.GetProperty("detail").GetString()), $"{what}: the detail says what is wrong: {body}");
    }

    [TestMethod]
    [DataRow("/sentiment", "{\"texts\": [\"fine\", 3]}", "Path: $.texts[1]")]
    [DataRow("/embed", "{\"texts\": {\"a\": 1}}", "Path: $.texts")]
    [DataRow("/similar", "{\"query\": \"q\", \"candidates\": [\"a\"], \"top\": 2.5}", "Path: $.top")]
    [DataRow("/similar", "{\"query\": 5, \"candidates\": [\"a\"]}", "Path: $.query")]
    public async Task JSON_that_does_not_bind_gets_a_400_naming_the_field(string path, string json, string field)
    {
        using var content = new StringContent(json, Encoding.UTF8, "application/json");
        var response = await client.PostAsync(path, content, TestContext.CancellationToken);
        string body = await response.Content.ReadAsStringAsync(TestContext.CancellationToken);
        Assert.AreEqual(HttpStatusCode.BadRequest, response.StatusCode, body);
        using var problem = JsonDocument.Parse(body);
        StringAssert.Contains(problem.RootElement.GetProperty("detail").GetString(), field);
    }

    [TestMethod]
    public async Task An_unknown_charset_gets_415_naming_it_not_a_500()
    {
        using var content = new StringContent("{\"texts\": [\"a\"]}", Encoding.UTF8);
        content.Headers.ContentType = System.Net.Http.Headers.MediaTypeHeaderValue.Parse("application/json; charset=klingon");
        var response = await client.PostAsync("/embed", content, TestContext.CancellationToken);
        string body = await response.Content.ReadAsStringAsync(TestContext.CancellationToken);
        Assert.AreEqual(HttpStatusCode.UnsupportedMediaType, response.StatusCode, body);
        StringAssert.Contains(body, "klingon");
    }

    [TestMethod]
    [DataRow("/sentiment")]
    [DataRow("/embed")]
    [DataRow("/similar")]
    public async Task A_body_that_is_not_JSON_gets_415_with_problem_details(string path)
    {
        using var content = new StringContent("I loved it", Encoding.UTF8, "text/plain");
        var response = await client.PostAsync(path, content, TestContext.CancellationToken);
        Assert.AreEqual(HttpStatusCode.UnsupportedMediaType, response.StatusCode);
        Assert.AreEqual("application/problem+json", response.Content.Headers.ContentType?.MediaType);
    }

    [TestMethod]
    public async Task A_request_cancelled_by_its_client_stops_before_its_forward_pass()
    {
        var statistics = factory.Services.GetRequiredService<ServiceStatistics>();
        var gate = factory.Services.GetRequiredService<ForwardPassGate>();
        long embeddedBefore = statistics.TextsEmbedded, cancelledBefore = statistics.CancelledRequests;

        // Hold the only slot, so the request is surely still waiting when its client gives up.
        var held = await gate.EnterAsync(TestContext.CancellationToken);
        try
        {
            using var giveUp = new CancellationTokenSource();
            var request = client.PostAsJsonAsync("/embed", new TextsRequest(["never embedded", "nor this"]), giveUp.Token);
            await WaitUntil(() => gate.WaitingCallers == 1, "the request to reach the gate");
            await giveUp.CancelAsync();
            await Assert.ThrowsAsync<OperationCanceledException>(() => request);
            await WaitUntil(() => statistics.CancelledRequests > cancelledBefore, "the server to notice the cancellation");
            Assert.AreEqual(0, gate.WaitingCallers, "the cancelled request no longer waits for the gate");
        }
        finally
        {
            held.Dispose();
        }

        Assert.AreEqual(cancelledBefore + 1, statistics.CancelledRequests);
        Assert.AreEqual(embeddedBefore, statistics.TextsEmbedded, "no text of the cancelled request was embedded");
        var after = await client.PostAsJsonAsync("/embed", new TextsRequest(["the service still answers"]), TestContext.CancellationToken);
        Assert.AreEqual(HttpStatusCode.OK, after.StatusCode);
    }

    [TestMethod]
    public async Task Concurrent_requests_all_succeed_through_one_forward_pass_at_a_time()
    {
        var gate = factory.Services.GetRequiredService<ForwardPassGate>();
        Assert.AreEqual(1, gate.MaxConcurrentPasses);
        int peak = 0;
        using var watching = new CancellationTokenSource();
        var watcher = Task.Run(async () =>
        {
            while (!watching.IsCancellationRequested)
            {
                peak = Math.Max(peak, gate.ActivePasses);
                await Task.Delay(1);
            }
        }, TestContext.CancellationToken);
        var responses = await Task.WhenAll(Enumerable.Range(0, 12).Select(i => i % 2 == 0
            ? client.PostAsJsonAsync("/sentiment", new TextsRequest([$"Great place number {i}!", "Awful."]), TestContext.CancellationToken)
            : client.PostAsJsonAsync("/embed", new TextsRequest([$"Sentence number {i}."]), TestContext.CancellationToken)));
        await watching.CancelAsync();
        await watcher;
        Assert.IsTrue(responses.All(r => r.StatusCode == HttpStatusCode.OK), string.Join(", ", responses.Select(r => r.StatusCode)));
        Assert.IsLessThanOrEqualTo(1, peak, "never more than one forward pass at once");
    }

    private static async Task WaitUntil(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
                Assert.Fail($"timed out waiting for {what}");
            await Task.Delay(20);
        }
    }
}
