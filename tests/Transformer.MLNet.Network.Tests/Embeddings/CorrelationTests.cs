using Transformer.MLNet.Network.Evaluation;

namespace Transformer.MLNet.Network.Tests.Embeddings;

[TestClass]
public sealed class CorrelationTests
{
    [TestMethod]
    public void Spearman_averages_tied_ranks_like_scipy()
    {
        // Ranks 1, 2.5, 2.5, 4, 5 and 2, 1, 3.5, 3.5, 5 (ties averaged); Pearson of the ranks = 7.25 / 9.5 by hand.
        double rho = Correlation.Spearman([1, 2, 2, 3, 5], [2, 1, 4, 4, 9]);
        Assert.AreEqual(7.25 / 9.5, rho, 1e-12);
        Assert.AreEqual(1.0, Correlation.Pearson([1, 2, 3], [2, 4, 6]), 1e-12);
        Assert.ThrowsExactly<ArgumentException>(() => Correlation.Pearson([1, 2], [1]));
    }
}
