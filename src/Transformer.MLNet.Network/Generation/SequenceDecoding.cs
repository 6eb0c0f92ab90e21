using TorchSharp;
using Transformer.MLNet.Network.Tokenization;
using static TorchSharp.torch;

namespace Transformer.MLNet.Network.Generation;

/// <summary>Runs the decoding algorithm the options name on a scorer.</summary>
internal static class SequenceDecoding
{
    /// <summary>
    /// Decodes every input in batches of similar length (<see cref="Batches"/>): pads each batch, lets
    /// <paramref name="start"/> build the scorer over it and say how many tokens it may add, runs the decoding and
    /// returns the outputs in input order. Each batch has its own dispose scope.
    /// </summary>
    /// <param name="inputs">Token ids per row.</param>
    /// <param name="options">Validated decoding settings.</param>
    /// <param name="equalLengthOnly">Batch only rows of one length (prompts of a decoder-only model, which has no padding mask).</param>
    /// <param name="device">Where the padded batch is created.</param>
    /// <param name="start">From the padded (B, T) batch: the scorer (disposed here) and the budget of new tokens.</param>
    /// <returns>Generated ids per input, without eos.</returns>
    public static int[][] RunInBatches(IReadOnlyList<int[]> inputs, GenerationOptions options, bool equalLengthOnly, Device device,
        Func<Tensor, (INextTokenScorer Scorer, int MaxNewTokens)> start)
    {
        var results = new int[inputs.Count][];
        foreach (int[] batch in Batches(inputs, options.BatchSize, equalLengthOnly))
        {
            using var scope = NewDisposeScope();
            using var padded = TokenBatch.Pad(batch.Select(i => inputs[i]).ToList(), GenerationTokenizer.PadId, device);   // (B, T)
            var (scorer, maxNewTokens) = start(padded);
            int[][] outputs;
            using (scorer)
                outputs = Run(scorer, options, maxNewTokens, GenerationTokenizer.EosId);
            for (int j = 0; j < batch.Length; j++)
                results[batch[j]] = outputs[j];
        }

        return results;
    }

    public static int[][] Run(INextTokenScorer scorer, GenerationOptions options, int maxNewTokens, int eosId) => options.Strategy switch
    {
        DecodingStrategy.Greedy => GreedySearch.Run(scorer, maxNewTokens, eosId),
        DecodingStrategy.BeamSearch => BeamSearch.Run(scorer, options.BeamWidth, options.LengthPenalty, maxNewTokens, eosId),
        DecodingStrategy.Sampling => TokenSampler.Run(scorer, options with { MaxNewTokens = maxNewTokens }, eosId),
        _ => throw new ArgumentOutOfRangeException(nameof(options), options.Strategy, "Unknown decoding strategy."),
    };

    /// <summary>Token budget that keeps every position inside the model's positional range.</summary>
    public static int Budget(GenerationOptions options, int prefixLength, int maxPositions, string what)
    {
        int room = maxPositions - prefixLength;
        if (room < 1)
        {
            throw new ArgumentException(
                $"The {what} is {prefixLength} tokens long, which leaves no room to generate within the model's {maxPositions} positions " +
                "(TransformerConfig.MaxPositions); shorten it or train with a larger MaxPositions.");
        }

        return Math.Min(options.MaxNewTokens, room);
    }

    /// <summary>Splits input indices into batches of at most <paramref name="batchSize"/>, grouping similar lengths.</summary>
    public static IEnumerable<int[]> Batches(IReadOnlyList<int[]> inputs, int batchSize, bool equalLengthOnly)
    {
        var byLength = Enumerable.Range(0, inputs.Count).OrderBy(i => inputs[i].Length).ThenBy(i => i).ToList();
        var batch = new List<int>(batchSize);
        foreach (int index in byLength)
        {
            bool lengthChanges = equalLengthOnly && batch.Count > 0 && inputs[batch[0]].Length != inputs[index].Length;
            if (batch.Count == batchSize || lengthChanges)
            {
                yield return [.. batch];
                batch.Clear();
            }

            batch.Add(index);
        }

        if (batch.Count > 0)
            yield return [.. batch];
    }
}
