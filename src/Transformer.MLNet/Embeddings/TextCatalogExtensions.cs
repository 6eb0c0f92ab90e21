using Microsoft.ML;
using Microsoft.ML.Runtime;
using Transformer.MLNet.Network.Embeddings;

namespace Transformer.MLNet.Embeddings;

/// <summary>The sentence embedding featurizer, next to ML.NET's <c>FeaturizeText</c> under <c>mlContext.Transforms.Text</c>.</summary>
public static class TextCatalogExtensions
{
    /// <summary>
    /// Embeds each text of <paramref name="inputColumnName"/> as a <c>Vector&lt;Single, 384&gt;</c> with the pretrained
    /// MiniLM-L6 encoder (mean pooling, L2-normalised), ready for any ML.NET trainer.
    /// </summary>
    /// <param name="catalog"><c>mlContext.Transforms.Text</c>.</param>
    /// <param name="outputColumnName">The vector column written.</param>
    /// <param name="inputColumnName">The text column read; null reads <paramref name="outputColumnName"/>.</param>
    /// <param name="pooling">How token states become one vector.</param>
    /// <param name="normalize">Scale each vector to unit length.</param>
    /// <param name="maxTokens">Most tokens per text.</param>
    /// <param name="inferenceBatchSize">Texts per forward pass.</param>
    public static SentenceEmbeddingEstimator ApplySentenceEmbedding(
        this TransformsCatalog.TextTransforms catalog, string outputColumnName, string? inputColumnName = null,
        Pooling pooling = Pooling.Mean, bool normalize = true, int maxTokens = 256, int inferenceBatchSize = 32) =>
        catalog.ApplySentenceEmbedding(new SentenceEmbeddingOptions
        {
            OutputColumnName = outputColumnName, InputColumnName = inputColumnName, Pooling = pooling, Normalize = normalize,
            MaxTokens = maxTokens, InferenceBatchSize = inferenceBatchSize,
        });

    /// <summary>The sentence embedding featurizer with every option (see <see cref="SentenceEmbeddingOptions"/>).</summary>
    /// <param name="catalog"><c>mlContext.Transforms.Text</c>.</param>
    /// <param name="options">The options.</param>
    public static SentenceEmbeddingEstimator ApplySentenceEmbedding(this TransformsCatalog.TextTransforms catalog, SentenceEmbeddingOptions options)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentNullException.ThrowIfNull(options);
        return new SentenceEmbeddingEstimator(catalog.GetEnvironment(), options);
    }

    /// <summary>
    /// Fine-tunes the sentence-embedding encoder on sentence pairs (a bi-encoder) and returns a featurizer over the
    /// fine-tuned weights that works wherever <c>ApplySentenceEmbedding</c> does (see <see cref="SentenceEmbeddingTrainingOptions"/>).
    /// </summary>
    /// <param name="catalog"><c>mlContext.Transforms.Text</c>.</param>
    /// <param name="options">The options.</param>
    public static SentenceEmbeddingTrainer FineTuneSentenceEmbedding(this TransformsCatalog.TextTransforms catalog, SentenceEmbeddingTrainingOptions options)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentNullException.ThrowIfNull(options);
        return new SentenceEmbeddingTrainer(catalog.GetEnvironment(), options);
    }
}
