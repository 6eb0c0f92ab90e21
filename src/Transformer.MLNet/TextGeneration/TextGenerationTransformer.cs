using Transformer.MLNet.Generation;
using Transformer.MLNet.Network.Generation;
using Transformer.MLNet.Persistence;

namespace Transformer.MLNet.TextGeneration;

/// <summary>A trained decoder-only language model that adds the continuation of a prompt column.</summary>
public sealed class TextGenerationTransformer : GeneratedTextTransformer
{
    private protected override string InputOptionName => "PromptColumnName";

    internal TextGenerationTransformer(ITextGenerator generator, string promptColumnName, string outputColumnName, GenerationOptions decoding)
        : base(generator, promptColumnName, outputColumnName, decoding)
    {
    }

    /// <summary>Segment kind <c>Transformer.MLNet.TextGeneration</c> (layout: <see cref="GeneratedTextPersister{TTransformer}"/>).</summary>
    internal static ITransformerPersister Persister { get; } = new GeneratedTextPersister<TextGenerationTransformer>(
        "Transformer.MLNet.TextGeneration", stream => TextGenerator.Load(stream), (g, input, output, decoding) => new(g, input, output, decoding));

    /// <summary>Continues prompts directly, optionally with other decoding settings (e.g. sampling) than the pipeline's.</summary>
    /// <param name="prompts">Prompts.</param>
    /// <param name="decoding">Decoding settings; null uses <see cref="GeneratedTextTransformer.Decoding"/>.</param>
    /// <returns>One continuation per prompt, in order.</returns>
    public string[] Complete(IReadOnlyList<string> prompts, GenerationOptions? decoding = null) => Generate(prompts, decoding);
}
