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
public sealed class TranslationGenerator : IDisposable
{
    private const string Kind = "encoder-decoder";

    private readonly EncoderDecoderModel model;
    private readonly GenerationTokenizer tokenizer;

    /// <summary>Wraps a trained model and the tokenizer it was trained with.</summary>
    /// <param name="model">The model; it is switched to eval mode for each call.</param>
    /// <param name="tokenizer">Shared source/target tokenizer.</param>
    /// <exception cref="ArgumentException">The tokenizer's vocabulary does not match the model's.</exception>
    public TranslationGenerator(EncoderDecoderModel model, GenerationTokenizer tokenizer)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(tokenizer);
        if (tokenizer.VocabSize != model.Config.VocabSize)
        {
            throw new ArgumentException(
                $"The tokenizer has {tokenizer.VocabSize} ids but the model's VocabSize is {model.Config.VocabSize}: use the tokenizer the model was trained with.",
                nameof(tokenizer));
        }

        this.model = model;
        this.tokenizer = tokenizer;
    }

    /// <summary>The network.</summary>
    public EncoderDecoderModel Model => model;

    /// <summary>The tokenizer.</summary>
    public GenerationTokenizer Tokenizer => tokenizer;

    /// <summary>Writes config, tokenizer and weights to one stream (layout: see <see cref="GenerativeModelFile"/>).</summary>
    /// <param name="stream">Destination; left open.</param>
    public void Save(Stream stream) => GenerativeModelFile.Save(stream, Kind, model.Config, tokenizer, model);

    /// <summary>Reads a generator written by <see cref="Save"/>.</summary>
    /// <param name="stream">Source; left open.</param>
    /// <param name="device">Where to place the weights (default CPU).</param>
    /// <returns>The generator, ready to decode.</returns>
    /// <exception cref="InvalidDataException">The stream does not hold a encoder-decoder model.</exception>
    public static TranslationGenerator Load(Stream stream, Device? device = null)
    {
        ArgumentNullException.ThrowIfNull(stream);
        using var reader = new BinaryReader(stream, System.Text.Encoding.UTF8, leaveOpen: true);
        var (config, tokenizer) = GenerativeModelFile.ReadHeader(reader, Kind);
        var network = new EncoderDecoderModel(config);
        try
        {
            network.load(reader);
            if (device is not null)
                network.to(device);
            network.eval();
            return new TranslationGenerator(network, tokenizer);
        }
        catch
        {
            network.Dispose();
            throw;
        }
    }

    /// <summary>Releases the network's tensors.</summary>
    public void Dispose() => model.Dispose();

    /// <summary>Translates texts.</summary>
    /// <param name="sources">Source texts.</param>
    /// <param name="options">Decoding settings (default: greedy with the cache).</param>
    /// <returns>One translation per source, in order.</returns>
    public string[] Translate(IReadOnlyList<string> sources, GenerationOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(sources);
        int[][] ids = [.. sources.Select((s, i) => tokenizer.Encode(s ?? throw new ArgumentException($"Source {i} is null.", nameof(sources))))];
        return [.. Generate(ids, options).Select(t => tokenizer.Decode(t))];
    }

    /// <summary>Generates target ids for source ids.</summary>
    /// <param name="sources">Source ids (without bos or eos; eos is appended as in training).</param>
    /// <param name="options">Decoding settings (default: greedy with the cache).</param>
    /// <returns>Target ids per source, without bos and eos.</returns>
    public int[][] Generate(IReadOnlyList<int[]> sources, GenerationOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(sources);
        options = (options ?? new GenerationOptions()).Validate();
        var device = model.parameters().First().device;
        int[][] inputs = [.. sources.Select(s => TokenBatch.SourceIds(s, model.Config.MaxPositions))];
        var results = new int[inputs.Length][];
        model.eval();
        using var noGrad = no_grad();
        foreach (int[] batch in SequenceDecoding.Batches(inputs, options.BatchSize, equalLengthOnly: false))
        {
            using var scope = NewDisposeScope();
            using var source = TokenBatch.Pad(batch.Select(i => inputs[i]).ToList(), GenerationTokenizer.PadId, device);   // (B, S)
            using var scorer = new EncoderDecoderScorer(model, source, GenerationTokenizer.BosId, options.UseCache);
            int budget = SequenceDecoding.Budget(options, 1, model.Config.MaxPositions, "target prefix");
            int[][] outputs = SequenceDecoding.Run(scorer, options, budget, GenerationTokenizer.EosId);
            for (int j = 0; j < batch.Length; j++)
                results[batch[j]] = outputs[j];
        }

        return results;
    }
}
