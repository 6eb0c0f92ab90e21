using TorchSharp;
using static TorchSharp.torch;

namespace Transformer.MLNet.Network.Generation;

/// <summary>
/// The left-to-right loop shared by greedy search and sampling: choose one token per row, stop a row at
/// end-of-sequence (and drop it from the batch, so finished rows cost nothing), stop all at the token budget.
/// </summary>
internal static class IncrementalSearch
{
    /// <summary>Runs the loop.</summary>
    /// <param name="scorer">The model; its rows are the inputs.</param>
    /// <param name="maxNewTokens">Token budget per row, end-of-sequence included.</param>
    /// <param name="eosId">End-of-sequence id (not included in the outputs).</param>
    /// <param name="choose">Picks one token per row from (rows, V) logits.</param>
    /// <returns>The generated ids of each input row, without end-of-sequence.</returns>
    public static int[][] Run(INextTokenScorer scorer, int maxNewTokens, int eosId, Func<Tensor, int[]> choose)
    {
        int rows = (int)scorer.Rows;
        var outputs = Enumerable.Range(0, rows).Select(_ => new List<int>()).ToArray();
        var active = Enumerable.Range(0, rows).ToList();   // scorer row i holds input row active[i]
        Tensor logits = scorer.Start();
        for (int step = 0; ; step++)
        {
            int[] next = choose(logits);
            logits.Dispose();

            var keep = new List<long>();
            var tokens = new List<long>();
            var stillActive = new List<int>();
            for (int i = 0; i < active.Count; i++)
            {
                if (next[i] == eosId)
                    continue;
                outputs[active[i]].Add(next[i]);
                keep.Add(i);
                tokens.Add(next[i]);
                stillActive.Add(active[i]);
            }

            if (stillActive.Count == 0 || step + 1 >= maxNewTokens)
                break;

            using var scope = NewDisposeScope();
            if (keep.Count < active.Count)
                scorer.Select(tensor(keep.ToArray(), device: scorer.Device));
            active = stillActive;
            logits = scorer.Advance(tensor(tokens.ToArray(), device: scorer.Device)).MoveToOuterDisposeScope();
        }

        return [.. outputs.Select(o => o.ToArray())];
    }
}
