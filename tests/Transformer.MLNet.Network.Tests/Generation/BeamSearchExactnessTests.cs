using TorchSharp;
using Transformer.MLNet.Network.Generation;
using static TorchSharp.torch;

namespace Transformer.MLNet.Network.Tests.Generation;

[TestClass]
public sealed class BeamSearchExactnessTests
{
    private const int Eos = 2, Vocabulary = 5, MaxNewTokens = 5;

    // Ordinary tokens: 0, 1 and 3 stand in for a vocabulary; 2 is end-of-sequence; 4 is never likely.
    private static readonly int[] Ordinary = [0, 1, 3];

    /// <summary>
    /// A made-up model: seeded random logits per prefix, end-of-sequence forced once four tokens are written, so
    /// that every hypothesis ends within the budget and brute force can enumerate them all.
    /// </summary>
    private sealed class ScriptedScorer(int inputs, int seed) : INextTokenScorer
    {
        private List<int[]> rows = [.. Enumerable.Range(0, inputs).Select(i => new[] { -1 - i })];   // a per-input marker

        public long Rows => rows.Count;

        public Device Device => CPU;

        public static float[] LogitsAfter(int[] prefix, int seed)
        {
            var random = new Random(HashCode.Combine(seed, string.Join(",", prefix)));
            var logits = Enumerable.Range(0, Vocabulary).Select(_ => (float)(random.NextDouble() * 4)).ToArray();
            logits[4] = -30;
            if (prefix.Length - 1 >= MaxNewTokens - 1)
                logits[Eos] = 100;
            return logits;
        }

        public Tensor Start() => Logits();

        public Tensor Advance(Tensor tokens)
        {
            long[] next = tokens.data<long>().ToArray();
            rows = [.. rows.Select((r, i) => (int[])[.. r, (int)next[i]])];
            return Logits();
        }

        public void Select(Tensor indices) => rows = [.. indices.data<long>().ToArray().Select(i => rows[(int)i])];

        private Tensor Logits() => tensor(rows.SelectMany(r => LogitsAfter(r, seed)).ToArray()).view(rows.Count, Vocabulary);

        public void Dispose()
        {
        }
    }

    private static double LogSoftmax(float[] logits, int token)
    {
        double max = logits.Max();
        return logits[token] - max - Math.Log(logits.Sum(l => Math.Exp(l - max)));
    }

    /// <summary>Every ordinary-token sequence of up to four tokens followed by eos, with its length-penalised score.</summary>
    private static int[] BruteForceBest(int input, int seed, double alpha)
    {
        (double Score, int[] Tokens) best = (double.NegativeInfinity, []);
        var frontier = new List<int[]> { Array.Empty<int>() };
        for (int length = 0; length < MaxNewTokens; length++)
        {
            var next = new List<int[]>();
            foreach (var tokens in frontier)
            {
                int[] prefix = [-1 - input, .. tokens];
                double logProbability = 0;
                for (int i = 0; i < tokens.Length; i++)
                    logProbability += LogSoftmax(ScriptedScorer.LogitsAfter(prefix[..(i + 1)], seed), tokens[i]);
                double ended = (logProbability + LogSoftmax(ScriptedScorer.LogitsAfter(prefix, seed), Eos)) / BeamSearch.Penalty(tokens.Length + 1, alpha);
                if (ended > best.Score)
                    best = (ended, tokens);
                next.AddRange(Ordinary.Select(t => (int[])[.. tokens, t]));
            }

            frontier = next;
        }

        return best.Tokens;
    }

    [TestMethod]
    [DataRow(0.0)]
    [DataRow(0.6)]
    [DataRow(1.0)]
    public void A_beam_wide_enough_to_hold_every_hypothesis_finds_the_exact_best_sequence(double alpha)
    {
        // 3^5 beams never prune anything here, so beam search must return the brute-force optimum; a beam that kept
        // the wrong parent's tokens (a reordering bug) gives a sequence the model never scored this way.
        const int inputs = 6, seed = 11;
        using var scope = NewDisposeScope();
        using var scorer = new ScriptedScorer(inputs, seed);
        int[][] found = BeamSearch.Run(scorer, width: 243, alpha, MaxNewTokens, Eos);
        for (int input = 0; input < inputs; input++)
            CollectionAssert.AreEqual(BruteForceBest(input, seed, alpha), found[input], $"input {input}, α = {alpha}");
    }

    [TestMethod]
    public void Narrow_beams_return_sequences_built_from_real_parent_beams()
    {
        // With few beams, every returned hypothesis must still be made only of ordinary tokens and end within the
        // budget: a beam glued to another beam's tokens grows longer than the steps taken.
        const int inputs = 20, seed = 5;
        using var scope = NewDisposeScope();
        foreach (int width in new[] { 2, 3, 4 })
        {
            using var scorer = new ScriptedScorer(inputs, seed);
            int[][] found = BeamSearch.Run(scorer, width, 0.6, MaxNewTokens, Eos);
            foreach (var tokens in found)
            {
                Assert.IsLessThan(MaxNewTokens, tokens.Length, $"width {width}: {string.Join(" ", tokens)}");
                Assert.IsTrue(tokens.All(t => Ordinary.Contains(t)), $"width {width}: {string.Join(" ", tokens)}");
            }
        }
    }
}
