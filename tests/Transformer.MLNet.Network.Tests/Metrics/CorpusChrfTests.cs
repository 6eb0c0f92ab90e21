using System.Globalization;
using Transformer.MLNet.Network.Metrics;

namespace Transformer.MLNet.Network.Tests.Metrics;

/// <summary>
/// Expected values are sacreBLEU's own: mjpost/sacrebleu, test/test_chrf.py (commit 0dca9d481824294b6e2b67b5bc6d7b6564a2553a),
/// with its tolerance 1e-4. Those cases use β = 3 (except the sentence-level ones, which use the default β = 2).
/// </summary>
[TestClass]
public sealed class CorpusChrfTests
{
    private const double Epsilon = 1e-4;

    private static double Score(CorpusChrf chrf, string[] hypotheses, string[] references) =>
        chrf.Score(hypotheses, references.Select(r => (IReadOnlyList<string>)[r]).ToArray());

    [TestMethod]
    [DataRow(new[] { "abcdefg" }, new[] { "hijklmnop" }, 0.0)]
    [DataRow(new[] { "a" }, new[] { "b" }, 0.0)]
    [DataRow(new[] { "" }, new[] { "b" }, 0.0)]
    [DataRow(new[] { "" }, new[] { "ref" }, 0.0)]
    [DataRow(new[] { "" }, new[] { "reference" }, 0.0)]
    [DataRow(new[] { "aa" }, new[] { "ab" }, 8.3333)]
    [DataRow(new[] { "a", "b" }, new[] { "a", "c" }, 8.3333)]
    [DataRow(new[] { "a" }, new[] { "a" }, 16.6667)]
    [DataRow(new[] { "a b c" }, new[] { "a b c" }, 50.0)]
    [DataRow(new[] { "a b c" }, new[] { "abc" }, 50.0)]
    [DataRow(new[] { " risk assessment must be made of those who are qualified and expertise in the sector - these are the scientists ." },
        new[] { "risk assessment has to be undertaken by those who are qualified and expert in that area - that is the scientists ." }, 63.361730)]
    [DataRow(new[] { " Die    Beziehung zwischen  Obama und Netanjahu ist nicht gerade  freundlich. " },
        new[] { "Das Verhältnis zwischen Obama und Netanyahu ist nicht gerade freundschaftlich." }, 64.1302698)]
    [DataRow(new[] { "Niemand hat die Absicht, eine Mauer zu errichten" }, new[] { "Niemand hat die Absicht, eine Mauer zu errichten" }, 100.0)]
    public void EpsilonSmoothingMatchesSacreBleu(string[] hypotheses, string[] references, double expected) =>
        Assert.AreEqual(expected, Score(new CorpusChrf { Beta = 3, EpsilonSmoothing = true }, hypotheses, references), Epsilon);

    [TestMethod]
    [DataRow(new[] { "a" }, new[] { "a" }, 100.0)]
    [DataRow(new[] { "" }, new[] { "reference" }, 0.0)]
    [DataRow(new[] { "a b c" }, new[] { "a b c" }, 100.0)]
    [DataRow(new[] { "a b c" }, new[] { "abc" }, 100.0)]
    [DataRow(new[] { "" }, new[] { "c" }, 0.0)]
    [DataRow(new[] { "a", "b" }, new[] { "a", "c" }, 50.0)]
    [DataRow(new[] { "aa" }, new[] { "ab" }, 25.0)]
    public void EffectiveOrderMatchesSacreBleu(string[] hypotheses, string[] references, double expected) =>
        Assert.AreEqual(expected, Score(new CorpusChrf { Beta = 3 }, hypotheses, references), Epsilon);

    [TestMethod]
    [DataRow("Die Beziehung zwischen Obama und Netanjahu ist nicht gerade freundlich.",
        "Das Verhältnis zwischen Obama und Netanyahu ist nicht gerade freundschaftlich.", 67.3481606)]
    [DataRow("risk assessment must be made of those who are qualified and expertise in the sector - these are the scientists .",
        "risk assessment has to be undertaken by those who are qualified and expert in that area - that is the scientists .", 65.2414427)]
    public void KeepingWhitespaceMatchesSacreBleu(string hypothesis, string reference, double expected) =>
        Assert.AreEqual(expected, Score(new CorpusChrf { Beta = 3, IncludeWhitespace = true }, [hypothesis], [reference]), Epsilon);

    [TestMethod]
    [DataRow("Co nás nejvíc trápí, protože lékaři si vybírají, kdo bude žít a kdo zemře.",
        "Nejvíce smutní jsme z toho, že musíme rozhodovat o tom, kdo bude žít a kdo zemře.", 39.14078509)]
    [DataRow("Nebo prostě nemají vybavení, které by jim pomohlo, uvedli lékaři.",
        "A někdy nemáme ani potřebný materiál, abychom jim pomohli, popsali lékaři.", 31.22557079)]
    [DataRow("Lapali po dechu, jejich životy skončily dřív, než skutečně začaly.",
        "Lapali po dechu a pak jejich život skončil - dřív, než skutečně mohl začít, připomněli.", 57.15704367)]
    public void SentenceLevelMatchesSacreBleu(string hypothesis, string reference, double expected) =>
        Assert.AreEqual(expected, new CorpusChrf { EpsilonSmoothing = true }.SentenceScore(hypothesis, [reference]), Epsilon);

    [TestMethod]
    public void BestReferenceIsChosenPerSegment()
    {
        var chrf = new CorpusChrf();
        double alone = chrf.SentenceScore("the cat sat", ["the cat sat"]);
        double withWorse = chrf.SentenceScore("the cat sat", ["a dog ran", "the cat sat"]);
        Assert.AreEqual(100.0, alone, 1e-9);
        Assert.AreEqual(alone, withWorse, 1e-9);
    }

    [TestMethod]
    [DataRow(double.NaN)]
    [DataRow(double.PositiveInfinity)]
    [DataRow(double.NegativeInfinity)]
    [DataRow(-2.0)]
    [DataRow(0.0)]
    [DataRow(1000.5)]
    public void BetaOutsideZeroToAThousandIsNamed(double beta) =>
        OptionErrors.AssertRefused(() => new CorpusChrf { Beta = beta }.SentenceScore("the cat sat", ["the cat sat"]), nameof(CorpusChrf.Beta),
            $"CorpusChrf.Beta = {beta.ToString(CultureInfo.InvariantCulture)} is invalid: it must be a number greater than 0 and at most 1000");

    [TestMethod]
    public void BetaAtTheBoundsWeighsPrecisionOrRecall()
    {
        // "ab" against "abcd": precision 1 and recall 2/4 at order 1, precision 1 and recall 1/3 at order 2; the hypothesis
        // has no n-grams of higher orders, which are left out. A huge β gives the recall, a tiny one the precision.
        double precision = 1, recall = ((2.0 / 4) + (1.0 / 3)) / 2;
        Assert.AreEqual(100 * recall, new CorpusChrf { Beta = 1000 }.SentenceScore("ab", ["abcd"]), 1e-3);
        Assert.AreEqual(100 * precision, new CorpusChrf { Beta = 1e-6 }.SentenceScore("ab", ["abcd"]), 1e-3);
    }

    [TestMethod]
    [DataRow(0)]
    [DataRow(-3)]
    [DataRow(101)]
    [DataRow(int.MaxValue)]
    public void CharOrderOutsideOneToAHundredIsNamed(int order) =>
        OptionErrors.AssertRefused(() => new CorpusChrf { CharOrder = order }.SentenceScore("the cat sat", ["the cat sat"]), nameof(CorpusChrf.CharOrder),
            $"CorpusChrf.CharOrder = {order} is invalid: it must be between 1 and 100");

    [TestMethod]
    public void ACharOrderOfAHundredScores() =>
        Assert.AreEqual(100.0, new CorpusChrf { CharOrder = 100 }.SentenceScore("the cat sat", ["the cat sat"]), 1e-9);
}
