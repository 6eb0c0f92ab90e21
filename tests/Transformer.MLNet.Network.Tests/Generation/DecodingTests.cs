using Transformer.MLNet.Network.Generation;
using Transformer.MLNet.Network.Tokenization;

namespace Transformer.MLNet.Network.Tests.Generation;

[TestClass]
[TestCategory("Training")]
public sealed class DecodingTests
{
    private static readonly List<(int[] Source, int[] Target)> HeldOut = SequenceTaskFixture.Pairs(200, 99, SequenceTaskFixture.Reverse);

    private static int[][] Decode(GenerationOptions options) =>
        new TranslationGenerator(SequenceTaskFixture.ReverseModel, SequenceTaskFixture.Tokenizer)
            .Generate([.. HeldOut.Select(p => p.Source)], options);

    [TestMethod]
    public void TinyModelLearnsToReverseExactly()
    {
        int[][] outputs = Decode(new GenerationOptions());
        int exact = outputs.Zip(HeldOut).Count(x => x.First.SequenceEqual(x.Second.Target));
        Assert.AreEqual(HeldOut.Count, exact, $"validation loss {SequenceTaskFixture.ReverseSummary.BestValidationMetric:F4} after {SequenceTaskFixture.ReverseSummary.Steps} steps");
    }

    [TestMethod]
    public void BeamWidthOneIsGreedy()
    {
        int[][] greedy = Decode(new GenerationOptions { MaxNewTokens = 12 });
        int[][] beam = Decode(new GenerationOptions { Strategy = DecodingStrategy.BeamSearch, BeamWidth = 1, MaxNewTokens = 12 });
        for (int i = 0; i < greedy.Length; i++)
            CollectionAssert.AreEqual(greedy[i], beam[i], $"input {i}");
    }

    [TestMethod]
    public void WiderBeamsAlsoReverseExactly()
    {
        int[][] beam = Decode(new GenerationOptions { Strategy = DecodingStrategy.BeamSearch, BeamWidth = 4 });
        Assert.AreEqual(HeldOut.Count, beam.Zip(HeldOut).Count(x => x.First.SequenceEqual(x.Second.Target)));
    }

    [TestMethod]
    [DataRow(DecodingStrategy.Greedy)]
    [DataRow(DecodingStrategy.BeamSearch)]
    [DataRow(DecodingStrategy.Sampling)]
    public void CacheGivesTokenForTokenTheSameOutput(DecodingStrategy strategy)
    {
        // A short budget cuts many outputs before eos, so unfinished rows are compared too.
        var options = new GenerationOptions { Strategy = strategy, MaxNewTokens = 6, BatchSize = 16, Temperature = 1.5, Seed = 5 };
        int[][] cached = Decode(options);
        int[][] uncached = Decode(options with { UseCache = false });
        for (int i = 0; i < cached.Length; i++)
            CollectionAssert.AreEqual(uncached[i], cached[i], $"input {i}");
    }

    [TestMethod]
    public void SamplingIsReproducibleFromItsSeedAndHonoursTopK()
    {
        var options = new GenerationOptions { Strategy = DecodingStrategy.Sampling, Temperature = 3.0, Seed = 11 };
        int[][] first = Decode(options);
        int[][] again = Decode(options);
        int[][] otherSeed = Decode(options with { Seed = 12 });
        Assert.IsTrue(first.Zip(again).All(x => x.First.SequenceEqual(x.Second)));
        Assert.IsFalse(first.Zip(otherSeed).All(x => x.First.SequenceEqual(x.Second)));

        // Top-1 sampling is greedy whatever the temperature.
        int[][] topOne = Decode(options with { TopK = 1 });
        int[][] greedy = Decode(new GenerationOptions());
        Assert.IsTrue(topOne.Zip(greedy).All(x => x.First.SequenceEqual(x.Second)));
    }

    [TestMethod]
    public void Sampling_at_a_vanishing_temperature_draws_the_most_likely_token()
    {
        // Logits divided by the smallest positive double overflow to ±∞; the draw must still be the top token.
        float[] logits = [1f, 5f, 3f, -2f, 5f - 1e-6f];
        foreach (double temperature in new[] { double.Epsilon, 1e-300, 1e-40 })
        {
            var options = new GenerationOptions { Strategy = DecodingStrategy.Sampling, Temperature = temperature };
            var random = new Random(5);
            for (int draw = 0; draw < 50; draw++)
                Assert.AreEqual(1, TokenSampler.Draw(logits, options, random), $"temperature {temperature:R}, draw {draw}");
            Assert.AreEqual(1, TokenSampler.Draw(logits, options with { TopP = 0.5 }, random), $"temperature {temperature:R} with top-p");
        }

        // Whole sequences: sampling that cold decodes exactly as greedy does.
        int[][] cold = Decode(new GenerationOptions { Strategy = DecodingStrategy.Sampling, Temperature = double.Epsilon, Seed = 3 });
        int[][] greedy = Decode(new GenerationOptions());
        Assert.IsTrue(cold.Zip(greedy).All(x => x.First.SequenceEqual(x.Second)));
    }

    [TestMethod]
    public void BatchingDoesNotChangeGreedyOutputs()
    {
        int[][] batched = Decode(new GenerationOptions { BatchSize = 64 });
        int[][] single = Decode(new GenerationOptions { BatchSize = 1 });
        for (int i = 0; i < batched.Length; i++)
            CollectionAssert.AreEqual(single[i], batched[i], $"input {i}");
    }

    [TestMethod]
    public void BadOptionsNameTheOption()
    {
        var error = Assert.ThrowsExactly<ArgumentException>(() => Decode(new GenerationOptions { TopP = 0 }));
        StringAssert.Contains(error.Message, "GenerationOptions.TopP = 0");
    }
}
