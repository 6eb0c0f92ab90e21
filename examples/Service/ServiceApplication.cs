using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using Transformer.MLNet.Embeddings;
using Transformer.MLNet.Serving;

namespace Transformer.MLNet.Examples.Service;

/// <summary>Builds the service: models loaded at startup, endpoints, problem details, OpenAPI and health.</summary>
public static class ServiceApplication
{
    /// <summary>The embedding model id the service reports.</summary>
    public const string EmbeddingModelId = "all-MiniLM-L6-v2";

    /// <summary>Builds the application; the sentiment pipeline and the embedding generator are loaded before it returns.</summary>
    /// <param name="args">Command-line arguments (<c>--urls</c>, <c>--Service:MaxTextsPerRequest=32</c>, ...).</param>
    /// <param name="configure">Further changes to the builder before it is built (the load benchmark binds a port).</param>
    public static WebApplication Build(string[] args, Action<WebApplicationBuilder>? configure = null)
    {
        var builder = WebApplication.CreateBuilder(args);
        var options = builder.Configuration.GetSection(ServiceOptions.Section).Get<ServiceOptions>() ?? new ServiceOptions();
        Validate(options);
        builder.Services.AddSingleton(Options.Create(options));
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Limits.MaxRequestBodySize = options.MaxRequestBodyBytes);

        builder.Services.AddSingleton(new ForwardPassGate(options.MaxConcurrentForwardPasses));
        builder.Services.AddSingleton<ServiceStatistics>();
        builder.Services.AddSingleton(provider => SentimentModel.LoadOrTrain(options.ResolvedSentimentModelPath,
            provider.GetRequiredService<ForwardPassGate>(), provider.GetRequiredService<ILoggerFactory>().CreateLogger("Service").LogStartup));
        // The generator serves the pipeline's own featurizer: one encoder in memory, and /embed gives exactly the
        // features /sentiment classifies.
        builder.Services.AddSentenceEmbeddingGenerator(provider => provider.GetRequiredService<SentimentModel>().Featurizer, EmbeddingModelId);

        builder.Services.AddProblemDetails();
        // A body that cannot be read or bound becomes an exception that RequestErrors turns into problem details whose
        // detail says what is wrong and where (the JSON path), in every environment.
        builder.Services.Configure<RouteHandlerOptions>(route => route.ThrowOnBadRequest = true);
        builder.Services.AddExceptionHandler<RequestErrors>();
        builder.Services.AddOpenApi();
        builder.Services.AddHealthChecks().AddCheck<ModelsHealthCheck>("models");
        configure?.Invoke(builder);

        var app = builder.Build();
        var gate = app.Services.GetRequiredService<ForwardPassGate>();
        gate.LimitIntraOpThreads();
        _ = app.Services.GetRequiredService<SentenceEmbeddingGenerator>();   // loads the pipeline now, not on the first request

        app.UseExceptionHandler();
        app.UseStatusCodePages();
        app.MapOpenApi();
        app.MapHealthChecks("/health");
        app.MapServiceEndpoints();
        return app;
    }

    private static void Validate(ServiceOptions options)
    {
        if (options.MaxTextsPerRequest < 1)
            throw new OptionsValidationException(ServiceOptions.Section, typeof(ServiceOptions), [$"Service:MaxTextsPerRequest is {options.MaxTextsPerRequest}; set it to 1 or more."]);
        if (options.MaxCharactersPerText < 1)
            throw new OptionsValidationException(ServiceOptions.Section, typeof(ServiceOptions), [$"Service:MaxCharactersPerText is {options.MaxCharactersPerText}; set it to 1 or more."]);
        if (options.MaxConcurrentForwardPasses < 1)
            throw new OptionsValidationException(ServiceOptions.Section, typeof(ServiceOptions), [$"Service:MaxConcurrentForwardPasses is {options.MaxConcurrentForwardPasses}; set it to 1 or more."]);
    }

    /// <summary>
    /// Answers requests whose body cannot be read with a 4xx and a detail naming the problem: JSON that does not bind
    /// (<c>The JSON value could not be converted to System.String. Path: $.texts[1]</c>), a missing or oversized body,
    /// or a charset .NET does not know (415). Other exceptions are left to the default handler (a 500 without details).
    /// </summary>
    private sealed class RequestErrors(IProblemDetailsService problems) : IExceptionHandler
    {
        public async ValueTask<bool> TryHandleAsync(HttpContext context, Exception exception, CancellationToken cancellationToken)
        {
            (int Status, string Detail)? answer = exception switch
            {
                BadHttpRequestException bad => (bad.StatusCode, bad.InnerException is System.Text.Json.JsonException json ? json.Message : bad.Message),
                InvalidOperationException { InnerException: ArgumentException } unknown when context.Request.ContentType?.Contains("charset", StringComparison.OrdinalIgnoreCase) == true =>
                    (StatusCodes.Status415UnsupportedMediaType, unknown.Message + " Send UTF-8 JSON (Content-Type: application/json)."),
                _ => null,
            };
            if (answer is null)
                return false;
            var (status, detail) = answer.Value;
            context.Response.StatusCode = status;
            return await problems.TryWriteAsync(new ProblemDetailsContext
            {
                HttpContext = context,
                Exception = exception,
                ProblemDetails = { Status = status, Detail = detail },
            });
        }
    }

    private static void LogStartup(this ILogger logger, string message) => logger.LogInformation("{Message}", message);

    /// <summary>Healthy once both models are loaded (they load at startup, so a served request always sees them).</summary>
    private sealed class ModelsHealthCheck(SentimentModel sentiment, SentenceEmbeddingGenerator generator) : IHealthCheck
    {
        public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
            Task.FromResult(HealthCheckResult.Healthy(
                $"sentiment pipeline {System.IO.Path.GetFileName(sentiment.Path)}; embeddings {generator.Metadata.DefaultModelId}, {generator.Dimension} dimensions"));
    }
}
