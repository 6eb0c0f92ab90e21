using Transformer.MLNet.Examples.Data;
using Transformer.MLNet.Network.Generation;

namespace Transformer.MLNet.Network.Tests.Data;

[TestClass]
public sealed class TranslationSplitTests
{
    [TestMethod]
    public void TatoebaSplitHoldsOutWholeSourcesWithAllTheirReferences()
    {
        var pairs = TatoebaSpanishEnglish.Load();
        Assert.HasCount(118964, pairs);
        Assert.AreEqual(new TranslationPair("Ve.", "Go."), pairs[0]);

        var split = TranslationSplit.BySource(pairs, 0.02, seed: 42);
        int distinctSources = pairs.Select(p => p.Source).Distinct(StringComparer.Ordinal).Count();
        Assert.HasCount((int)Math.Round(distinctSources * 0.02), split.Test);

        var heldOut = split.Test.Select(t => t.Source).ToHashSet(StringComparer.Ordinal);
        Assert.IsFalse(split.Train.Any(p => heldOut.Contains(p.Source)));
        Assert.AreEqual(pairs.Count, split.Train.Count + split.Test.Sum(t => t.References.Count));
        Assert.IsTrue(split.Test.Any(t => t.References.Count > 1));
        foreach (var item in split.Test.Take(200))
        {
            var expected = pairs.Where(p => p.Source == item.Source).Select(p => p.Target).ToList();
            CollectionAssert.AreEqual(expected, item.References.ToList());
        }

        var again = TranslationSplit.BySource(pairs, 0.02, seed: 42);
        CollectionAssert.AreEqual(split.Test.Select(t => t.Source).ToList(), again.Test.Select(t => t.Source).ToList());
        var other = TranslationSplit.BySource(pairs, 0.02, seed: 7);
        CollectionAssert.AreNotEqual(split.Test.Select(t => t.Source).ToList(), other.Test.Select(t => t.Source).ToList());
    }

    [TestMethod]
    public void BadFractionNamesTheOption()
    {
        var error = Assert.ThrowsExactly<ArgumentException>(() => TranslationSplit.BySource([new("a", "b"), new("c", "d")], 1.5, 1));
        StringAssert.Contains(error.Message, "testFraction = 1.5");
    }

    [TestMethod]
    public void TinyShakespeareSplitsNinetyTen()
    {
        var (train, validation) = TinyShakespeare.Load();
        Assert.AreEqual(1_115_394, train.Length + validation.Length);
        Assert.AreEqual(1_003_854, train.Length);
    }
}
