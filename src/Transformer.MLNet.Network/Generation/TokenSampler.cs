using static TorchSharp.torch;

namespace Transformer.MLNet.Network.Generation;

/// <summary>
/// Ancestral sampling with temperature, top-k (Fan et al. 2018) and top-p / nucleus filtering (Holtzman et al.
/// 2020). Draws use a seeded <see cref="Random"/> on managed copies of the probabilities, so a seed reproduces
/// the same text on any device.
/// </summary>
internal static class TokenSampler
{
    /// <summary>Samples a continuation for every row of the scorer.</summary>
    /// <param name="scorer">The model with its inputs.</param>
    /// <param name="options">Temperature, TopK, TopP, Seed and MaxNewTokens are used.</param>
    /// <param name="eosId">End-of-sequence id.</param>
    /// <returns>The generated ids per row, without end-of-sequence.</returns>
    public static int[][] Run(INextTokenScorer scorer, GenerationOptions options, int eosId)
    {
        ArgumentNullException.ThrowIfNull(scorer);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        var random = new Random(options.Seed);
        return IncrementalSearch.Run(scorer, options.MaxNewTokens, eosId, logits =>
        {
            using var cpu = logits.to(ScalarType.Float32).cpu();
            long rows = cpu.shape[0], vocab = cpu.shape[1];
            float[] all = cpu.data<float>().ToArray();
            var chosen = new int[rows];
            for (int r = 0; r < rows; r++)
                chosen[r] = Draw(all.AsSpan((int)(r * vocab), (int)vocab), options, random);
            return chosen;
        });
    }

    /// <summary>Draws one token id from a row of logits.</summary>
    internal static int Draw(ReadOnlySpan<float> logits, GenerationOptions options, Random random)
    {
        int vocab = logits.Length;
        int[] order = [.. Enumerable.Range(0, vocab)];
        // Scaled as differences from the largest logit, (logit − max) / T ≤ 0: a tiny temperature then sends every
        // other token to −∞ (probability 0) instead of dividing the logits themselves into ±∞ and ∞ − ∞ = NaN.
        float largest = float.NegativeInfinity;
        foreach (float logit in logits)
            largest = Math.Max(largest, logit);
        double[] scaled = new double[vocab];
        for (int i = 0; i < vocab; i++)
            scaled[i] = logits[i] == largest ? 0 : ((double)logits[i] - largest) / options.Temperature;

        // Most probable first; ties by id so that a draw does not depend on the sort's stability.
        Array.Sort(order, (a, b) => scaled[b] != scaled[a] ? scaled[b].CompareTo(scaled[a]) : a.CompareTo(b));
        int kept = options.TopK > 0 ? Math.Min(options.TopK, vocab) : vocab;

        double[] probabilities = new double[kept];
        double total = 0;
        for (int i = 0; i < kept; i++)
            total += probabilities[i] = Math.Exp(scaled[order[i]]);   // the top token's scaled logit is 0

        if (options.TopP < 1)
        {
            // Keep the smallest prefix whose mass reaches p (always at least the top token).
            double mass = 0;
            int nucleus = 0;
            while (nucleus < kept && mass < options.TopP * total)
                mass += probabilities[nucleus++];
            kept = Math.Max(1, nucleus);
            total = mass;
        }

        double u = random.NextDouble() * total;
        for (int i = 0; i < kept; i++)
        {
            u -= probabilities[i];
            if (u < 0)
                return order[i];
        }

        return order[kept - 1];
    }
}
