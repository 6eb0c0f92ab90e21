namespace Transformer.MLNet.Network.Generation;

/// <summary>Runs the decoding algorithm the options name on a scorer.</summary>
internal static class SequenceDecoding
{
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
