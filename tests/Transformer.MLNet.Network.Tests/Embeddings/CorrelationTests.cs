using Transformer.MLNet.Network.Evaluation;

namespace Transformer.MLNet.Network.Tests.Embeddings;

[TestClass]
public sealed class CorrelationTests
{
    [TestMethod]
    public void Spearman_gives_tied_values_their_average_rank()
    {
        // Ranks 1, 2.5, 2.5, 4, 5 and 2, 1, 3.5, 3.5, 5 (ties averaged); Pearson of the ranks = 7.25 / 9.5 by hand.
        double rho = Correlation.Spearman([1, 2, 2, 3, 5], [2, 1, 4, 4, 9]);
        Assert.AreEqual(7.25 / 9.5, rho, 1e-12);
        Assert.AreEqual(1.0, Correlation.Pearson([1, 2, 3], [2, 4, 6]), 1e-12);
        Assert.ThrowsExactly<ArgumentException>(() => Correlation.Pearson([1, 2], [1]));
    }

    [TestMethod]
    public void Non_finite_values_are_refused_naming_the_series_and_index()
    {
        var nan = Assert.ThrowsExactly<ArgumentException>(() => Correlation.Spearman([1, 2, double.NaN, 4], [1, 2, 3, 4]));
        Assert.AreEqual("x", nan.ParamName);
        StringAssert.Contains(nan.Message, "x[2] = NaN");
        var infinity = Assert.ThrowsExactly<ArgumentException>(() => Correlation.Pearson([1, 2, 3], [1, double.NegativeInfinity, 3]));
        Assert.AreEqual("y", infinity.ParamName);
        StringAssert.Contains(infinity.Message, "y[1] = -Infinity");
    }

    [TestMethod]
    public void A_constant_series_has_no_correlation()
    {
        // 0.1 three times has a mean that is not exactly 0.1; the correlation is still undefined (NaN).
        Assert.IsTrue(double.IsNaN(Correlation.Pearson([0.1, 0.1, 0.1], [1, 2, 3])));
        Assert.IsTrue(double.IsNaN(Correlation.Pearson([1, 2, 3], [5, 5, 5])));
        Assert.IsTrue(double.IsNaN(Correlation.Spearman([7, 7, 7], [1, 2, 3])));
    }
}
