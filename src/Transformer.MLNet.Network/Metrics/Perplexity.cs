namespace Transformer.MLNet.Network.Metrics;

/// <summary>Perplexity: exp of the mean negative log-likelihood per predicted token (nats).</summary>
public static class Perplexity
{
    /// <summary>Perplexity from a summed negative log-likelihood.</summary>
    /// <param name="totalNats">Sum of −ln p(token) over all predicted tokens.</param>
    /// <param name="tokens">How many tokens were predicted.</param>
    /// <returns>exp(totalNats / tokens).</returns>
    /// <exception cref="ArgumentException">No tokens, or a negative or non-finite total.</exception>
    public static double FromTotalLoss(double totalNats, long tokens)
    {
        if (tokens <= 0)
            throw new ArgumentException($"Perplexity needs at least one predicted token (tokens = {tokens}).", nameof(tokens));
        return FromMeanLoss(totalNats / tokens);
    }

    /// <summary>Perplexity from a mean cross-entropy loss in nats per token.</summary>
    /// <param name="meanNats">Mean −ln p(token).</param>
    /// <returns>exp(meanNats).</returns>
    /// <exception cref="ArgumentException">The loss is negative or not finite.</exception>
    public static double FromMeanLoss(double meanNats)
    {
        if (!double.IsFinite(meanNats) || meanNats < 0)
            throw new ArgumentException($"A cross-entropy loss must be finite and non-negative (got {meanNats}).", nameof(meanNats));
        return Math.Exp(meanNats);
    }
}
