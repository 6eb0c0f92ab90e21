using Transformer.MLNet.Examples.Data;

namespace Transformer.MLNet.Examples.Service;

/// <summary>Settings of the service, bound from the configuration section <c>Service</c> (appsettings.json,
/// environment variables such as <c>Service__MaxTextsPerRequest</c>, or command-line arguments).</summary>
public sealed class ServiceOptions
{
    /// <summary>The configuration section.</summary>
    public const string Section = "Service";

    /// <summary>The sentiment pipeline archive (<c>SavePipeline</c>); trained and saved there on first run if missing.
    /// Null: <c>artifacts/models/service-sentiment.zip</c> in the repository (or the working directory).</summary>
    public string? SentimentModelPath { get; set; }

    /// <summary>Most texts in one request (for <c>/similar</c>: candidates).</summary>
    public int MaxTextsPerRequest { get; set; } = 64;

    /// <summary>Most characters in one text.</summary>
    public int MaxCharactersPerText { get; set; } = 2000;

    /// <summary>Forward passes running at once across both models; 1 gives each pass every core (fastest on a CPU).</summary>
    public int MaxConcurrentForwardPasses { get; set; } = 1;

    /// <summary>Largest request body Kestrel accepts; larger ones are refused before they are read.</summary>
    public long MaxRequestBodyBytes { get; set; } = 1 << 20;

    /// <summary>The model path in use.</summary>
    public string ResolvedSentimentModelPath =>
        SentimentModelPath is { Length: > 0 } path
            ? Path.GetFullPath(path)
            : Path.Combine(DataDirectory.RepositoryRoot ?? Directory.GetCurrentDirectory(), "artifacts", "models", "service-sentiment.zip");
}
