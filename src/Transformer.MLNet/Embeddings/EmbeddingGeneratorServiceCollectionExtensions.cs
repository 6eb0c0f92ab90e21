using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Transformer.MLNet.Serving;

namespace Transformer.MLNet.Embeddings;

/// <summary>Registers a <see cref="SentenceEmbeddingGenerator"/> with dependency injection.</summary>
public static class EmbeddingGeneratorServiceCollectionExtensions
{
    /// <summary>
    /// Registers a singleton <see cref="SentenceEmbeddingGenerator"/> over the built-in pretrained MiniLM-L6 (or
    /// <see cref="SentenceEmbeddingOptions.EncoderFolder"/>), resolvable as itself and as
    /// <c>IEmbeddingGenerator&lt;string, Embedding&lt;float&gt;&gt;</c>. The encoder loads on first resolution and is
    /// released with the container. Forward passes go through the container's <see cref="ForwardPassGate"/> (one pass at
    /// a time unless one is registered before).
    /// </summary>
    /// <param name="services">The service collection.</param>
    /// <param name="options">Encoder options; null: the defaults of <c>ApplySentenceEmbedding</c>.</param>
    /// <param name="modelId">The model id reported in the metadata; null: the encoder's architecture name.</param>
    /// <returns><paramref name="services"/>.</returns>
    public static IServiceCollection AddSentenceEmbeddingGenerator(
        this IServiceCollection services, SentenceEmbeddingOptions? options = null, string? modelId = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        options?.Validate();
        return services.AddGenerator(provider => SentenceEmbeddingGenerator.Create(options, modelId, provider.GetRequiredService<ForwardPassGate>()));
    }

    /// <summary>
    /// Registers a singleton <see cref="SentenceEmbeddingGenerator"/> over an embedding transformer that the container
    /// provides (say, the featurizer of a pipeline loaded with <c>LoadPipeline</c>); the transformer stays its owner's.
    /// Resolvable as itself and as <c>IEmbeddingGenerator&lt;string, Embedding&lt;float&gt;&gt;</c>.
    /// </summary>
    /// <param name="services">The service collection.</param>
    /// <param name="transformer">Gives the transformer, once, on first resolution.</param>
    /// <param name="modelId">The model id reported in the metadata; null: the encoder's architecture name.</param>
    /// <returns><paramref name="services"/>.</returns>
    public static IServiceCollection AddSentenceEmbeddingGenerator(
        this IServiceCollection services, Func<IServiceProvider, SentenceEmbeddingTransformer> transformer, string? modelId = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(transformer);
        return services.AddGenerator(provider => new SentenceEmbeddingGenerator(transformer(provider), modelId, provider.GetRequiredService<ForwardPassGate>()));
    }

    private static IServiceCollection AddGenerator(this IServiceCollection services, Func<IServiceProvider, SentenceEmbeddingGenerator> create)
    {
        services.TryAddSingleton(_ => new ForwardPassGate());
        services.AddSingleton(create);
        // The same instance under the abstraction; its Dispose is idempotent, so the container may dispose it twice.
        services.AddSingleton<IEmbeddingGenerator<string, Embedding<float>>>(provider => provider.GetRequiredService<SentenceEmbeddingGenerator>());
        return services;
    }
}
