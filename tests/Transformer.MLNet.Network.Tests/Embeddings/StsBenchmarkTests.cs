using Transformer.MLNet.Network.Embeddings;
using Transformer.MLNet.Network.Evaluation;
using Transformer.MLNet.Network.Tests.Pretrained;

namespace Transformer.MLNet.Network.Tests.Embeddings;

[TestClass]
public sealed class StsBenchmarkTests
{
    public TestContext TestContext { get; set; } = null!;

    [TestMethod]
    [TestCategory("Parity")]
    public void Cosine_similarity_reproduces_the_reference_spearman_on_stsb_test()
    {
        // Reference: the package's own ONNX Runtime encoder scores Spearman 0.8205 (Pearson 0.8276) on this split.
        var pairs = MiniLmFixture.Pairs;
        using var encoder = SentenceEncoder.FromPretrained(MiniLmFixture.Model);
        var embeddings = encoder.Encode(MiniLmFixture.Sentences);
        var cosines = pairs.Select((_, i) => EmbeddingSimilarity.Cosine(embeddings[2 * i], embeddings[2 * i + 1])).ToList();
        var gold = pairs.Select(p => p.Score).ToList();

        double spearman = Correlation.Spearman(cosines, gold);
        double pearson = Correlation.Pearson(cosines, gold);
        TestContext.WriteLine($"STS-B test ({pairs.Count} pairs): spearman={spearman:F4} pearson={pearson:F4}");
        Assert.HasCount(1379, pairs);
        Assert.AreEqual(0.8205, spearman, 0.001);
        Assert.AreEqual(0.8276, pearson, 0.001);
    }
}
