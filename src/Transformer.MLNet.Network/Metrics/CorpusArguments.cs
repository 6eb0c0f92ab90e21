using System.Globalization;

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

    /// <summary>Throws an error naming the metric's option, its value and the rule it breaks, unless <paramref name="ok"/>.</summary>
    /// <param name="ok">Whether the value is valid.</param>
    /// <param name="metric">The metric's class, e.g. <c>CorpusBleu</c>.</param>
    /// <param name="option">The option's property name.</param>
    /// <param name="value">Its value.</param>
    /// <param name="rule">What a valid value is, ending without a period.</param>
    public static void RequireOption(bool ok, string metric, string option, object? value, string rule)
    {
        if (!ok)
            throw new ArgumentException(string.Create(CultureInfo.InvariantCulture, $"{metric}.{option} = {value} is invalid: {rule}."), option);
    }
}
