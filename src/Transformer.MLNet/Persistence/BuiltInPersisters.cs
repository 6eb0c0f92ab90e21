using Transformer.MLNet.Classification;
using Transformer.MLNet.Embeddings;
using Transformer.MLNet.TextGeneration;
using Transformer.MLNet.TokenClassification;
using Transformer.MLNet.Translation;

namespace Transformer.MLNet.Persistence;

/// <summary>The transformer kinds this library ships.</summary>
internal static class BuiltInPersisters
{
    public static IReadOnlyList<ITransformerPersister> All { get; } =
    [
        new SentenceEmbeddingPersister(),
        new TextClassificationPersister(TextModelKind.Binary),
        new TextClassificationPersister(TextModelKind.Multiclass),
        new TextClassificationPersister(TextModelKind.Regression),
        TranslationTransformer.Persister,
        TextGenerationTransformer.Persister,
        new TokenClassificationPersister(),
    ];
}
