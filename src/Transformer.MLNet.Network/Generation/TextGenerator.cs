using TorchSharp;
using Transformer.MLNet.Network.Models;
using Transformer.MLNet.Network.Tokenization;
using static TorchSharp.torch;

namespace Transformer.MLNet.Network.Generation;

/// <summary>
/// Continues prompts with a <see cref="DecoderOnlyModel"/>. The model has no padding mask, so prompts are
/// batched only with prompts of the same token length: a batched continuation is exactly the one-at-a-time one.
/// </summary>
public sealed class TextGenerator : SequenceGenerator<DecoderOnlyModel>
{
    /// <summary>Wraps a trained model and the tokenizer it was trained with.</summary>
    /// <param name="model">The model; it is switched to eval mode for each call.</param>
    /// <param name="tokenizer">Its tokenizer.</param>
    /// <exception cref="ArgumentException">The tokenizer's vocabulary does not match the model's.</exception>
    public TextGenerator(DecoderOnlyModel model, GenerationTokenizer tokenizer)
        : base(model, (model ?? throw new ArgumentNullException(nameof(model))).Config, tokenizer)
    {
    }

    /// <summary>Reads a generator written by <see cref="SequenceGenerator{TModel}.Save"/>.</summary>
    /// <param name="stream">Source; left open.</param>
    /// <param name="device">Where to place the weights (default CPU).</param>
    /// <returns>The generator, ready to decode.</returns>
    /// <exception cref="InvalidDataException">The stream does not hold a decoder-only model.</exception>
    public static TextGenerator Load(Stream stream, Device? device = null) =>
        Load(stream, device, "decoder-only", config => new DecoderOnlyModel(config), (network, tokenizer) => new TextGenerator(network, tokenizer));

    private protected override string Kind => "decoder-only";

    /// <inheritdoc/>
    public override string[] GenerateText(IReadOnlyList<string> inputs, GenerationOptions? options = null) => Complete(inputs, options);

    /// <summary>
    /// Completes text prompts. Each prompt is read as a document start: bos, then the prompt's tokens. A prompt too long
    /// to leave room for generation within the model's positions keeps only its end (the context nearest the
    /// continuation): the last <c>MaxPositions − min(MaxNewTokens, MaxPositions / 2)</c> tokens, without bos.
    /// </summary>
    /// <param name="prompts">Prompts (may be empty strings).</param>
    /// <param name="options">Decoding settings (default: greedy with the cache).</param>
    /// <returns>The generated continuation of each prompt (without the prompt).</returns>
    public string[] Complete(IReadOnlyList<string> prompts, GenerationOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(prompts);
        options = (options ?? new GenerationOptions()).Validate();
        int positions = Model.Config.MaxPositions;
        int kept = positions - Math.Min(options.MaxNewTokens, positions / 2);
        int[][] ids = [.. prompts.Select((p, i) => KeepEnd(
            [GenerationTokenizer.BosId, .. Tokenizer.Encode(p ?? throw new ArgumentException($"Prompt {i} is null.", nameof(prompts)))], positions, kept))];
        return [.. Generate(ids, options).Select(t => Tokenizer.Decode(t))];
    }

    /// <summary>The prompt as it is when it leaves room to generate, else its last <paramref name="kept"/> tokens.</summary>
    private static int[] KeepEnd(int[] prompt, int positions, int kept) =>
        prompt.Length < positions ? prompt : prompt[^Math.Max(1, kept)..];

    /// <summary>Continues token id prompts.</summary>
    /// <param name="prompts">Prompt ids, each non-empty, used as given.</param>
    /// <param name="options">Decoding settings (default: greedy with the cache).</param>
    /// <returns>Generated ids per prompt, without eos.</returns>
    /// <exception cref="ArgumentException">A prompt is empty or too long for the model.</exception>
    public int[][] Generate(IReadOnlyList<int[]> prompts, GenerationOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(prompts);
        options = (options ?? new GenerationOptions()).Validate();
        for (int i = 0; i < prompts.Count; i++)
        {
            if (prompts[i] is not { Length: > 0 })
                throw new ArgumentException($"Prompt {i} has no tokens: give at least one (e.g. bos).", nameof(prompts));
        }

        using var use = Lifetime.Enter();
        Model.eval();
        using var noGrad = no_grad();
        // Prompts of one length per batch: the decoder has no padding mask, so every row's last position is real.
        return SequenceDecoding.RunInBatches(prompts, options, equalLengthOnly: true, Device, input =>
        {
            int budget = SequenceDecoding.Budget(options, (int)input.shape[1], Model.Config.MaxPositions, "prompt");
            return (new DecoderOnlyScorer(Model, input, options.UseCache), budget);
        });
    }
}
