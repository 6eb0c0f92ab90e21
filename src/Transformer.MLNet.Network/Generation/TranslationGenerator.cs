using TorchSharp;
using Transformer.MLNet.Network.Models;
using Transformer.MLNet.Network.Tokenization;
using static TorchSharp.torch;

namespace Transformer.MLNet.Network.Generation;

/// <summary>
/// Translates with an <see cref="EncoderDecoderModel"/>: texts are tokenized, sorted by length, batched with
/// right padding (the source padding mask keeps pads out of attention), decoded with the chosen strategy and
/// detokenized. Results come back in input order as managed arrays.
/// </summary>
public sealed class TranslationGenerator : SequenceGenerator<EncoderDecoderModel>
{
    /// <summary>Wraps a trained model and the tokenizer it was trained with.</summary>
    /// <param name="model">The model; it is switched to eval mode for each call.</param>
    /// <param name="tokenizer">Shared source/target tokenizer.</param>
    /// <exception cref="ArgumentException">The tokenizer's vocabulary does not match the model's.</exception>
    public TranslationGenerator(EncoderDecoderModel model, GenerationTokenizer tokenizer)
        : base(model, (model ?? throw new ArgumentNullException(nameof(model))).Config, tokenizer)
    {
    }

    /// <summary>Reads a generator written by <see cref="SequenceGenerator{TModel}.Save"/>.</summary>
    /// <param name="stream">Source; left open.</param>
    /// <param name="device">Where to place the weights (default CPU).</param>
    /// <returns>The generator, ready to decode.</returns>
    /// <exception cref="InvalidDataException">The stream does not hold an encoder-decoder model.</exception>
    public static TranslationGenerator Load(Stream stream, Device? device = null) =>
        Load(stream, device, "encoder-decoder", config => new EncoderDecoderModel(config), (network, tokenizer) => new TranslationGenerator(network, tokenizer));

    private protected override string Kind => "encoder-decoder";

    /// <inheritdoc/>
    public override string[] GenerateText(IReadOnlyList<string> inputs, GenerationOptions? options = null) => Translate(inputs, options);

    /// <summary>Translates texts.</summary>
    /// <param name="sources">Source texts.</param>
    /// <param name="options">Decoding settings (default: greedy with the cache).</param>
    /// <returns>One translation per source, in order.</returns>
    public string[] Translate(IReadOnlyList<string> sources, GenerationOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(sources);
        int[][] ids = [.. sources.Select((s, i) => Tokenizer.Encode(s ?? throw new ArgumentException($"Source {i} is null.", nameof(sources))))];
        return [.. Generate(ids, options).Select(t => Tokenizer.Decode(t))];
    }

    /// <summary>
    /// The decoder's attention over the source while it produces <paramref name="translation"/> (teacher-forced), for
    /// every layer and head: which source words each target word looked at.
    /// </summary>
    /// <param name="source">Source text.</param>
    /// <param name="translation">A translation of it, usually from <see cref="Translate"/>.</param>
    /// <returns>The weights with the tokens as text.</returns>
    /// <exception cref="ArgumentException">A text is null or does not fit in the model's positions.</exception>
    public CrossAttentionMap CrossAttention(string source, string translation)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(translation);
        int limit = Model.Config.MaxPositions;
        int[] sourceIds = Tokenizer.Encode(source), targetIds = Tokenizer.Encode(translation);
        if (sourceIds.Length + 1 > limit)
            throw new ArgumentException($"The source has {sourceIds.Length} tokens; the model reads at most {limit - 1} (MaxPositions = {limit}).", nameof(source));
        if (targetIds.Length + 1 > limit)
            throw new ArgumentException($"The translation has {targetIds.Length} tokens; the model writes at most {limit - 1} (MaxPositions = {limit}).", nameof(translation));

        int[] encoderInput = [.. sourceIds, GenerationTokenizer.EosId];
        int[] decoderInput = [GenerationTokenizer.BosId, .. targetIds];
        using var use = Lifetime.Enter();
        var device = Device;
        var recorded = new List<Tensor>();
        Model.eval();
        try
        {
            using var noGrad = no_grad();
            using var scope = NewDisposeScope();
            using var sourceTensor = TokenBatch.Pad([encoderInput], GenerationTokenizer.PadId, device);
            using var targetTensor = TokenBatch.Pad([decoderInput], GenerationTokenizer.PadId, device);
            using var memory = Model.Encode(sourceTensor);
            using var hidden = Model.Decode(targetTensor, memory, crossAttentionWeights: recorded);
            int layers = recorded.Count, heads = (int)recorded[0].shape[1];
            var weights = new float[layers, heads, decoderInput.Length, encoderInput.Length];
            for (int l = 0; l < layers; l++)
            {
                using var cpu = recorded[l].to(float32).cpu().contiguous();
                float[] values = cpu.data<float>().ToArray();                       // (1, h, T, S) row-major
                Buffer.BlockCopy(values, 0, weights, l * values.Length * sizeof(float), values.Length * sizeof(float));
            }

            return new CrossAttentionMap([.. sourceIds.Select(TokenText), "</s>"], [.. targetIds.Select(TokenText), "</s>"], weights);
        }
        finally
        {
            foreach (var tensor in recorded)
                tensor.Dispose();
        }
    }

    private string TokenText(int id) => Tokenizer.Decode([id]);

    /// <summary>Generates target ids for source ids.</summary>
    /// <param name="sources">Source ids (without bos or eos; eos is appended as in training).</param>
    /// <param name="options">Decoding settings (default: greedy with the cache).</param>
    /// <returns>Target ids per source, without bos and eos.</returns>
    public int[][] Generate(IReadOnlyList<int[]> sources, GenerationOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(sources);
        options = (options ?? new GenerationOptions()).Validate();
        int[][] inputs = [.. sources.Select(s => TokenBatch.SourceIds(s, Model.Config.MaxPositions))];
        using var use = Lifetime.Enter();
        Model.eval();
        using var noGrad = no_grad();
        return SequenceDecoding.RunInBatches(inputs, options, equalLengthOnly: false, Device, source =>   // source: (B, S)
        {
            int budget = SequenceDecoding.Budget(options, 1, Model.Config.MaxPositions, "target prefix");
            return (new EncoderDecoderScorer(Model, source, GenerationTokenizer.BosId, options.UseCache), budget);
        });
    }
}
