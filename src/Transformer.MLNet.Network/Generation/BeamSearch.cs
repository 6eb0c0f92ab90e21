using TorchSharp;
using static TorchSharp.torch;

namespace Transformer.MLNet.Network.Generation;

/// <summary>
/// Beam search over a batch of inputs: each input keeps <c>width</c> live hypotheses; at every step the 2·width
/// best extensions are ranked, those ending in end-of-sequence (among the top width) are set aside with the GNMT
/// length penalty, the rest continue. An input is finished once it has width finished hypotheses and no live one
/// can beat the worst of them; finished inputs leave the batch. With width 1 it chooses exactly what greedy
/// search chooses.
/// </summary>
public static class BeamSearch
{
    /// <summary>Decodes every row of the scorer.</summary>
    /// <param name="scorer">The model with its inputs (one row per input).</param>
    /// <param name="width">Beams per input.</param>
    /// <param name="lengthPenalty">α of ((5 + length) / 6)^α.</param>
    /// <param name="maxNewTokens">Token budget per hypothesis, end-of-sequence included.</param>
    /// <param name="eosId">End-of-sequence id.</param>
    /// <returns>The best hypothesis per input, without end-of-sequence.</returns>
    /// <exception cref="ArgumentException">The width is below 1 or above 256.</exception>
    public static int[][] Run(INextTokenScorer scorer, int width, double lengthPenalty, int maxNewTokens, int eosId)
    {
        ArgumentNullException.ThrowIfNull(scorer);
        if (width is < 1 or > GenerationOptions.MaxBeamWidth)
            throw new ArgumentException($"Beam width = {width} is invalid: it must be between 1 and {GenerationOptions.MaxBeamWidth}.", nameof(width));

        int inputs = (int)scorer.Rows;
        var finished = Enumerable.Range(0, inputs).Select(_ => new List<(double Score, int[] Tokens)>()).ToArray();
        var beams = Enumerable.Range(0, inputs).Select(_ => Enumerable.Range(0, width).Select(_ => new List<int>()).ToArray()).ToArray();

        // Only beam 0 of each input is live at first, so the first step does not pick the same token width times.
        var scores = Enumerable.Range(0, inputs).Select(_ => Enumerable.Range(0, width).Select(b => b == 0 ? 0.0 : double.NegativeInfinity).ToArray()).ToArray();
        var active = Enumerable.Range(0, inputs).ToList();   // scorer rows [p·width, (p+1)·width) hold input active[p]

        Tensor logits;
        using (var start = NewDisposeScope())
        {
            using var first = scorer.Start();
            using var expand = arange(inputs, device: scorer.Device).repeat_interleave(width);   // (inputs·width)
            scorer.Select(expand);
            logits = first.index_select(0, expand).MoveToOuterDisposeScope();                // (inputs·width, V)
        }

        for (int step = 0; ; step++)
        {
            int length = step + 1;
            float[] topScores;
            long[] topIndices;
            long vocab = logits.shape[1];
            using (var scope = NewDisposeScope())
            {
                double[] running = [.. active.SelectMany(i => scores[i])];
                using var logProbabilities = logits.to(ScalarType.Float32).log_softmax(-1);      // (rows, V)
                using var beamScores = tensor(running, device: logits.device).to(ScalarType.Float32).unsqueeze(1);
                using var candidates = (logProbabilities + beamScores).view(active.Count, width * vocab);   // (n, width·V)
                var (values, indices) = candidates.topk(Math.Min(2 * width, (int)(width * vocab)), dim: 1);
                topScores = values.cpu().data<float>().ToArray();
                topIndices = indices.cpu().data<long>().ToArray();
            }

            logits.Dispose();
            int perInput = topScores.Length / active.Count;
            var rows = new List<long>();
            var tokens = new List<long>();
            var stillActive = new List<int>();
            for (int p = 0; p < active.Count; p++)
            {
                int input = active[p];
                var nextBeams = new List<(int Beam, int Token, double Score)>(width);
                for (int j = 0; j < perInput && nextBeams.Count < width; j++)
                {
                    double score = topScores[(p * perInput) + j];
                    if (double.IsNegativeInfinity(score))
                        continue;
                    int beam = (int)(topIndices[(p * perInput) + j] / vocab);
                    int token = (int)(topIndices[(p * perInput) + j] % vocab);
                    if (token == eosId)
                    {
                        if (j < width)
                            finished[input].Add((score / Penalty(length, lengthPenalty), [.. beams[input][beam]]));
                        continue;
                    }

                    nextBeams.Add((beam, token, score));
                }

                // A copy: beam b may extend a parent beam that an earlier b has already replaced in beams[input].
                var old = beams[input].ToArray();
                for (int b = 0; b < width; b++)
                {
                    if (b < nextBeams.Count)
                    {
                        beams[input][b] = [.. old[nextBeams[b].Beam], nextBeams[b].Token];
                        scores[input][b] = nextBeams[b].Score;
                    }
                    else
                    {
                        scores[input][b] = double.NegativeInfinity;
                    }
                }

                bool outOfBudget = length >= maxNewTokens;
                if (outOfBudget || IsDone(finished[input], scores[input], width, length, lengthPenalty))
                {
                    if (finished[input].Count < width)
                    {
                        for (int b = 0; b < nextBeams.Count; b++)
                            finished[input].Add((scores[input][b] / Penalty(length, lengthPenalty), [.. beams[input][b]]));
                    }

                    continue;
                }

                stillActive.Add(input);
                for (int b = 0; b < width; b++)
                {
                    rows.Add((p * width) + (b < nextBeams.Count ? nextBeams[b].Beam : 0));
                    tokens.Add(b < nextBeams.Count ? nextBeams[b].Token : eosId);
                }
            }

            if (stillActive.Count == 0)
                break;

            using var advance = NewDisposeScope();
            scorer.Select(tensor(rows.ToArray(), device: scorer.Device));
            active = stillActive;
            logits = scorer.Advance(tensor(tokens.ToArray(), device: scorer.Device)).MoveToOuterDisposeScope();
        }

        return [.. finished.Select(f => f.Count == 0 ? [] : f.MaxBy(h => h.Score).Tokens)];
    }

    /// <summary>GNMT length penalty ((5 + length) / 6)^α (Wu et al. 2016, eq. 14).</summary>
    internal static double Penalty(int length, double alpha) => Math.Pow((5.0 + length) / 6.0, alpha);

    private static bool IsDone(List<(double Score, int[] Tokens)> finished, double[] running, int width, int length, double alpha)
    {
        if (finished.Count < width)
            return false;
        double worstFinished = finished.OrderByDescending(h => h.Score).Take(width).Min(h => h.Score);
        double bestRunning = running.Max() / Penalty(length, alpha);
        return bestRunning <= worstFinished;
    }
}
