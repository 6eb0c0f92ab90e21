using System.Globalization;
using Transformer.MLNet.Network.Metrics;

namespace Transformer.MLNet.Network.Tests.Metrics;

/// <summary>
/// Expected values are sacreBLEU's own: mjpost/sacrebleu, test/test_bleu.py (commit 785d26bb42ff5cc738c8aa06efb288cf407fc4fd),
/// with its tolerance (1e-8 on the 0–1 scale for raw scores, exact for statistics).
/// </summary>
[TestClass]
public sealed class CorpusBleuTests
{
    private const double Epsilon = 1e-8;

    // sacreBLEU's README example: two reference streams of three segments each, regrouped per segment.
    private static readonly string[] Hypotheses = ["The dog bit the man.", "It wasn't surprising.", "The man had just bitten him."];

    private static readonly IReadOnlyList<string>[] References =
    [
        ["The dog bit the man.", "The dog had bit the man."],
        ["It was not unexpected.", "No one was surprised."],
        ["The man bit him first.", "The man had bitten the dog."],
    ];

    // sacreBLEU's raw_corpus_bleu: floor smoothing, no tokenization, effective order.
    private static CorpusBleu Raw(double floor) => new()
    {
        Tokenization = BleuTokenization.None, Smoothing = BleuSmoothing.Floor, SmoothingValue = floor, EffectiveOrder = true,
    };

    [TestMethod]
    public void DefaultSettingsMatchSacreBleu() =>
        Assert.AreEqual(48.530827, new CorpusBleu().Score(Hypotheses, References).Score, Epsilon);

    [TestMethod]
    [DataRow(BleuTokenization.None, 49.1919566)]
    [DataRow(BleuTokenization.Mteval13a, 48.530827)]
    [DataRow(BleuTokenization.International, 43.91623493)]
    public void TokenizationsMatchSacreBleu(BleuTokenization tokenization, double expected) =>
        Assert.AreEqual(expected, new CorpusBleu { Tokenization = tokenization }.Score(Hypotheses, References).Score, Epsilon);

    [TestMethod]
    public void NoSmoothingMatchesSacreBleu() =>
        Assert.AreEqual(48.530827, new CorpusBleu { Smoothing = BleuSmoothing.None }.Score(Hypotheses, References).Score, Epsilon);

    [TestMethod]
    public void EmptyHypothesesScoreZero() =>
        Assert.AreEqual(0.0, new CorpusBleu().Score(["", "", ""], References).Score);

    [TestMethod]
    [DataRow(1, "77.65")]
    [DataRow(2, "60.50")]
    [DataRow(3, "53.93")]
    [DataRow(4, "48.53")]
    [DataRow(5, "46.14")]
    [DataRow(6, "43.28")]
    public void MaxOrderMatchesSacreBleu(int order, string expected) =>
        Assert.AreEqual(expected, new CorpusBleu { MaxOrder = order }.Score(Hypotheses, References).Score.ToString("F2", CultureInfo.InvariantCulture));

    [TestMethod]
    [DataRow(new[] { "this is a test", "another test" }, new[] { "ref1", "ref2" }, 0.0)]
    [DataRow(new[] { "this is a test" }, new[] { "this is a test" }, 1.0)]
    [DataRow(new[] { "this is a fest" }, new[] { "this is a test" }, 0.223606797749979)]
    [DataRow(new[] { "test" }, new[] { "a test" }, 0.3678794411714425)]
    [DataRow(new[] { "a test" }, new[] { "a test" }, 1.0)]
    [DataRow(new[] { "a little test" }, new[] { "a test" }, 0.03218297948685433)]
    public void RawCorpusBleuMatchesSacreBleu(string[] hypotheses, string[] references, double expected)
    {
        var perSegment = references.Select(r => (IReadOnlyList<string>)[r]).ToArray();
        Assert.AreEqual(expected, Raw(0.01).Score(hypotheses, perSegment).Score / 100, Epsilon);
    }

    [TestMethod]
    public void StatisticsMatchSacreBleu()
    {
        var score = Raw(0.01).Score(["am I am a character sequence"], [["I am a symbol string sequence a a"]]);
        CollectionAssert.AreEqual(new double[] { 4, 2, 1, 0 }, score.Matches.ToArray());
        CollectionAssert.AreEqual(new double[] { 6, 5, 4, 3 }, score.Totals.ToArray());
    }

    [TestMethod]
    public void FloorOffsetMatchesSacreBleu()
    {
        string[] hypothesis = ["am I am a character sequence"];
        IReadOnlyList<string>[] reference = [["I am a symbol string sequence a a"]];
        Assert.AreEqual(0.0, Raw(0.0).Score(hypothesis, reference).Score / 100, Epsilon);
        var defaultFloor = new CorpusBleu { Tokenization = BleuTokenization.None, Smoothing = BleuSmoothing.Floor, EffectiveOrder = true };
        Assert.AreEqual(0.1555722182, defaultFloor.Score(hypothesis, reference).Score / 100, Epsilon);
    }

    [TestMethod]
    public void ScoringFromStatisticsMatchesSacreBleu()
    {
        var bleu = new CorpusBleu { Smoothing = BleuSmoothing.None };
        Assert.AreEqual(0.8375922397, bleu.FromStatistics([9, 7, 5, 3], [10, 8, 6, 4], 11, 11).Score / 100, Epsilon);
    }

    [TestMethod]
    [DataRow(new double[] { 0, 0, 0, 0 }, new double[] { 4, 4, 2, 1 }, 0L, 1L, 0.0)]
    [DataRow(new double[] { 0, 0, 0, 0 }, new double[] { 10, 11, 12, 0 }, 14L, 10L, 0.0)]
    [DataRow(new double[] { 0, 0, 0, 0 }, new double[] { 0, 0, 0, 0 }, 0L, 0L, 0.0)]
    [DataRow(new double[] { 6, 5, 4, 0 }, new double[] { 6, 5, 4, 3 }, 6L, 6L, 0.0)]
    [DataRow(new double[] { 0, 0, 0, 0 }, new double[] { 0, 0, 0, 0 }, 0L, 0L, 0.1)]
    [DataRow(new double[] { 0, 0, 0, 0 }, new double[] { 0, 0, 0, 0 }, 1L, 5L, 0.01)]
    public void DegenerateStatisticsScoreZero(double[] matches, double[] totals, long hypothesisLength, long referenceLength, double floor)
    {
        var bleu = new CorpusBleu { Smoothing = BleuSmoothing.Floor, SmoothingValue = floor };
        Assert.AreEqual(0.0, bleu.FromStatistics(matches, totals, hypothesisLength, referenceLength).Score);
    }

    [TestMethod]
    public void MismatchedCountsNameTheProblem()
    {
        var error = Assert.ThrowsExactly<ArgumentException>(() => new CorpusBleu().Score(["a", "b"], [["a"]]));
        StringAssert.Contains(error.Message, "2 hypotheses but 1 reference sets");
    }

    [TestMethod]
    public void Tokenizer13aSplitsPunctuationButKeepsNumbers() =>
        CollectionAssert.AreEqual(
            new[] { "It", "costs", "$", "3.50", ",", "doesn't", "it", "?" },
            SacreBleuTokenizer.Tokenize("It costs $3.50, doesn't it?", BleuTokenization.Mteval13a));
}
