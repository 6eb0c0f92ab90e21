using static TorchSharp.torch;

namespace Transformer.MLNet.Network.Generation;

/// <summary>Greedy decoding: the most probable token at every step.</summary>
internal static class GreedySearch
{
    /// <summary>Decodes every row of the scorer.</summary>
    /// <param name="scorer">The model with its inputs.</param>
    /// <param name="maxNewTokens">Token budget per row, end-of-sequence included.</param>
    /// <param name="eosId">End-of-sequence id.</param>
    /// <returns>The generated ids per row, without end-of-sequence.</returns>
    public static int[][] Run(INextTokenScorer scorer, int maxNewTokens, int eosId)
    {
        ArgumentNullException.ThrowIfNull(scorer);
        return IncrementalSearch.Run(scorer, maxNewTokens, eosId, logits =>
        {
            using var best = logits.argmax(-1).to(ScalarType.Int32).cpu();   // (rows, V) -> (rows)
            return best.data<int>().ToArray();
        });
    }
}
