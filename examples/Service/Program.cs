using Transformer.MLNet.Examples.Service;

// Sentiment, embeddings and similarity over HTTP: loads (or, on first run, trains and saves) a sentiment pipeline,
// wraps its sentence encoder as an IEmbeddingGenerator, and serves POST /sentiment, /embed and /similar, GET /health
// and the OpenAPI document at /openapi/v1.json.
// Usage: dotnet run -c Release --project examples/Service [-- --urls http://127.0.0.1:5080]
var app = ServiceApplication.Build(args);
app.Run();

/// <summary>The entry point, visible to <c>WebApplicationFactory&lt;Program&gt;</c> in the tests.</summary>
public partial class Program;
