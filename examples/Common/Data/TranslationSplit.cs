using Transformer.MLNet.Network.Generation;

namespace Transformer.MLNet.Examples.Data;

/// <summary>A training set and a held-out test set that share no source sentence.</summary>
/// <param name="Train">Training pairs.</param>
/// <param name="Test">Held-out sources, each with all its references.</param>
public sealed record TranslationSplit(IReadOnlyList<TranslationPair> Train, IReadOnlyList<TranslationTestItem> Test)
{
    /// <summary>
    /// Holds out a seeded random fraction of the distinct source sentences: every pair of a held-out source goes
    /// to the test set (its targets become the references), every other pair to training.
    /// </summary>
    /// <param name="pairs">All pairs.</param>
    /// <param name="testFraction">Fraction of distinct sources to hold out, in (0, 1).</param>
    /// <param name="seed">Seed of the shuffle; the same seed gives the same split.</param>
    /// <returns>The split; test items keep the order of the data.</returns>
    /// <exception cref="ArgumentException">The fraction is outside (0, 1) or there are too few sources.</exception>
    public static TranslationSplit BySource(IReadOnlyList<TranslationPair> pairs, double testFraction, int seed)
    {
        ArgumentNullException.ThrowIfNull(pairs);
        if (testFraction is <= 0 or >= 1)
            throw new ArgumentException($"testFraction = {testFraction} is invalid: it must be between 0 and 1 (exclusive).", nameof(testFraction));

        var references = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        var sources = new List<string>();
        foreach (var pair in pairs)
        {
            if (!references.TryGetValue(pair.Source, out var targets))
            {
                references[pair.Source] = targets = [];
                sources.Add(pair.Source);
            }

            targets.Add(pair.Target);
        }

        int testCount = (int)Math.Round(sources.Count * testFraction);
        if (testCount < 1 || testCount >= sources.Count)
            throw new ArgumentException($"{sources.Count} distinct sources with testFraction = {testFraction} leave an empty side; use more data or another fraction.", nameof(testFraction));

        string[] shuffled = [.. sources];
        new Random(seed).Shuffle(shuffled);
        var heldOut = new HashSet<string>(shuffled.Take(testCount), StringComparer.Ordinal);

        var train = pairs.Where(p => !heldOut.Contains(p.Source)).ToList();
        var test = sources.Where(heldOut.Contains).Select(s => new TranslationTestItem(s, references[s])).ToList();
        return new TranslationSplit(train, test);
    }
}
