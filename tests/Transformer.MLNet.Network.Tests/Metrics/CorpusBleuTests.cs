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
    [DataRow(BleuTokenization.Mteval13a)]
    [DataRow(BleuTokenization.None)]
    public void AControlCharacterInsideAWordIsPartOfThatWord(BleuTokenization tokenization)
    {
        // Both tokenizers keep U+0001 inside a word, so "a\u0001b" is one word that matches nothing, exactly like "aXb".
        var bleu = new CorpusBleu { Tokenization = tokenization };
        var control = bleu.Score(["a\u0001b c d"], [["a b c d"]]);
        var letter = bleu.Score(["aXb c d"], [["a b c d"]]);
        Assert.AreEqual(letter.ToString(), control.ToString());
        CollectionAssert.AreEqual(new double[] { 2, 1, 0, 0 }, control.Matches.ToArray());
        CollectionAssert.AreEqual(new double[] { 3, 2, 1, 0 }, control.Totals.ToArray());
        CollectionAssert.AreEqual(new[] { 200.0 / 3, 50, 50, 0 }, control.Precisions.ToArray());

        var longWord = bleu.Score(["a\u0001b\u0001c\u0001d\u0001e"], [["a b c"]]);
        Assert.AreEqual(bleu.Score(["aXbXcXdXe"], [["a b c"]]).ToString(), longWord.ToString());
        CollectionAssert.AreEqual(new double[] { 1, 0, 0, 0 }, longWord.Totals.ToArray());

        var inReference = bleu.Score(["a b c d"], [["a\u0001b c d"]]);
        Assert.AreEqual(bleu.Score(["a b c d"], [["aXb c d"]]).ToString(), inReference.ToString());
    }

    [TestMethod]
    [DataRow(BleuSmoothing.Floor, double.NaN)]
    [DataRow(BleuSmoothing.Floor, double.PositiveInfinity)]
    [DataRow(BleuSmoothing.Floor, -5.0)]
    [DataRow(BleuSmoothing.Floor, 1.5)]
    [DataRow(BleuSmoothing.AddK, double.NaN)]
    [DataRow(BleuSmoothing.AddK, double.PositiveInfinity)]
    [DataRow(BleuSmoothing.AddK, -5.0)]
    [DataRow(BleuSmoothing.Exponential, double.NaN)]
    public void InvalidSmoothingValuesAreNamed(BleuSmoothing smoothing, double value)
    {
        var bleu = new CorpusBleu { Smoothing = smoothing, SmoothingValue = value };
        string message = $"CorpusBleu.SmoothingValue = {value.ToString(CultureInfo.InvariantCulture)} is invalid";
        OptionErrors.AssertRefused(() => bleu.Score(Hypotheses, References), nameof(CorpusBleu.SmoothingValue), message);
        OptionErrors.AssertRefused(() => bleu.FromStatistics([1, 0, 0, 0], [2, 1, 0, 0], 2, 2), nameof(CorpusBleu.SmoothingValue), message);
    }

    [TestMethod]
    public void SmoothingValuesAtTheBoundsAreAccepted()
    {
        Assert.AreEqual(0.0, new CorpusBleu { Smoothing = BleuSmoothing.AddK, SmoothingValue = 0 }.Score(["a b"], [["a c"]]).Score);
        var floor = new CorpusBleu { Smoothing = BleuSmoothing.Floor, SmoothingValue = 1 }.Score(["a b"], [["a c"]]);
        CollectionAssert.AreEqual(new double[] { 50, 100, 0, 0 }, floor.Precisions.ToArray());
    }

    [TestMethod]
    [DataRow(0)]
    [DataRow(-1)]
    [DataRow(101)]
    [DataRow(int.MaxValue)]
    public void MaxOrderOutsideOneToAHundredIsNamed(int order) =>
        OptionErrors.AssertRefused(() => new CorpusBleu { MaxOrder = order }.Score(Hypotheses, References),
            nameof(CorpusBleu.MaxOrder), $"CorpusBleu.MaxOrder = {order} is invalid: it must be between 1 and 100");

    [TestMethod]
    public void MaxOrderOfAHundredScores() =>
        Assert.AreEqual(100.0, new CorpusBleu { MaxOrder = 100, EffectiveOrder = true }.Score(["a b c"], [["a b c"]]).Score, 1e-9);

    [TestMethod]
    public void UnnamedEnumValuesAreNamed()
    {
        OptionErrors.AssertRefused(() => new CorpusBleu { Smoothing = (BleuSmoothing)9 }.FromStatistics([1, 0, 0, 0], [1, 0, 0, 0], 1, 1),
            nameof(CorpusBleu.Smoothing), "CorpusBleu.Smoothing = 9 is invalid: use one of None, Floor, AddK, Exponential");
        OptionErrors.AssertRefused(() => new CorpusBleu { Tokenization = (BleuTokenization)9 }.Score(Hypotheses, References),
            nameof(CorpusBleu.Tokenization), "CorpusBleu.Tokenization = 9 is invalid: use one of Mteval13a, None, International");
    }

    [TestMethod]
    public void MoreMatchesThanNgramsAreRefused() =>
        OptionErrors.AssertRefused(() => new CorpusBleu().FromStatistics([9, 7, 5, 5], [10, 8, 6, 4], 11, 11),
            "matches", "matches[3] = 5 is more than totals[3] = 4");

    [TestMethod]
    [DataRow(new double[] { -1, 0, 0, 0 }, new double[] { 1, 0, 0, 0 }, 1L, 1L, "matches", "matches[0] = -1 is invalid")]
    [DataRow(new double[] { 1, 0, 0, double.NaN }, new double[] { 1, 0, 0, 0 }, 1L, 1L, "matches", "matches[3] = NaN is invalid")]
    [DataRow(new double[] { 1, 0, 0, 0 }, new double[] { 1, -2, 0, 0 }, 1L, 1L, "totals", "totals[1] = -2 is invalid")]
    [DataRow(new double[] { 1, 0, 0, 0 }, new double[] { double.PositiveInfinity, 0, 0, 0 }, 1L, 1L, "totals", "totals[0] = Infinity is invalid")]
    [DataRow(new double[] { 1, 0, 0, 0 }, new double[] { 1, 0, 0, 0 }, -1L, 1L, "hypothesisLength", "hypothesisLength = -1 is invalid")]
    [DataRow(new double[] { 1, 0, 0, 0 }, new double[] { 1, 0, 0, 0 }, 1L, -1L, "referenceLength", "referenceLength = -1 is invalid")]
    public void NegativeOrNonFiniteStatisticsAreNamed(double[] matches, double[] totals, long hypothesisLength, long referenceLength, string parameter, string message) =>
        OptionErrors.AssertRefused(() => new CorpusBleu().FromStatistics(matches, totals, hypothesisLength, referenceLength), parameter, message);

    [TestMethod]
    public void Tokenizer13aSplitsPunctuationButKeepsNumbers() =>
        CollectionAssert.AreEqual(
            new[] { "It", "costs", "$", "3.50", ",", "doesn't", "it", "?" },
            SacreBleuTokenizer.Tokenize("It costs $3.50, doesn't it?", BleuTokenization.Mteval13a));
}
