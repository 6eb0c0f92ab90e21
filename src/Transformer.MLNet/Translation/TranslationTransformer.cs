using Transformer.MLNet.Generation;
using Transformer.MLNet.Network.Generation;
using Transformer.MLNet.Persistence;

namespace Transformer.MLNet.Translation;

/// <summary>A trained encoder-decoder that adds the translation of a text column, decoding rows in batches.</summary>
public sealed class TranslationTransformer : GeneratedTextTransformer
{
    private protected override string InputOptionName => "SourceColumnName";

    internal TranslationTransformer(ITextGenerator generator, string sourceColumnName, string outputColumnName, GenerationOptions decoding)
        : base(generator, sourceColumnName, outputColumnName, decoding)
    {
    }

    /// <summary>Segment kind <c>Transformer.MLNet.Translation</c> (layout: <see cref="GeneratedTextPersister{TTransformer}"/>).</summary>
    internal static ITransformerPersister Persister { get; } = new GeneratedTextPersister<TranslationTransformer>(
        "Transformer.MLNet.Translation", stream => TranslationGenerator.Load(stream), (g, input, output, decoding) => new(g, input, output, decoding));

    /// <summary>Translates texts directly, optionally with other decoding settings (e.g. beam search) than the pipeline's.</summary>
    /// <param name="sources">Texts to translate.</param>
    /// <param name="decoding">Decoding settings; null uses <see cref="GeneratedTextTransformer.Decoding"/>.</param>
    /// <returns>One translation per source, in order.</returns>
    public string[] Translate(IReadOnlyList<string> sources, GenerationOptions? decoding = null) => Generate(sources, decoding);

    /// <summary>
    /// The decoder's attention over the source while it writes <paramref name="translation"/>, per layer and head
    /// (e.g. to draw which source words each translated word looked at).
    /// </summary>
    /// <param name="source">Source text.</param>
    /// <param name="translation">A translation of it, usually from <see cref="Translate"/>.</param>
    /// <returns>The weights with the tokens as text.</returns>
    public CrossAttentionMap CrossAttention(string source, string translation)
    {
        using var use = EnterUse();
        return ((TranslationGenerator)Generator).CrossAttention(source, translation);
    }
}
