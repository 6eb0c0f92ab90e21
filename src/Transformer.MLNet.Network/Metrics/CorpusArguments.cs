namespace Transformer.MLNet.Network.Metrics;

/// <summary>The argument checks every corpus metric shares.</summary>
internal static class CorpusArguments
{
    /// <summary>Throws unless there is one non-empty reference set per hypothesis.</summary>
    public static void Check(IReadOnlyList<string> hypotheses, IReadOnlyList<IReadOnlyList<string>> references)
    {
        ArgumentNullException.ThrowIfNull(hypotheses);
        ArgumentNullException.ThrowIfNull(references);
        if (hypotheses.Count != references.Count)
        {
            throw new ArgumentException(
                $"There are {hypotheses.Count} hypotheses but {references.Count} reference sets: pass one set of references per hypothesis.",
                nameof(references));
        }

        for (int s = 0; s < references.Count; s++)
        {
            if (references[s] is not { Count: > 0 })
                throw new ArgumentException($"Segment {s} has no reference: every hypothesis needs at least one.", nameof(references));
        }
    }
}
