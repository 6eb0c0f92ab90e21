using TorchSharp;
using Transformer.MLNet.Network.Generation;
using Transformer.MLNet.Network.Tokenization;
using static TorchSharp.torch;

namespace Transformer.MLNet.Network.Tests.Generation;

[TestClass]
[TestCategory("Training")]
public sealed class CrossAttentionTests
{
    private static readonly List<(int[] Source, int[] Target)> HeldOut = SequenceTaskFixture.Pairs(100, 98, SequenceTaskFixture.Reverse);

    private static TranslationGenerator Generator => new(SequenceTaskFixture.ReverseModel, SequenceTaskFixture.Tokenizer);

    private static string Text(int[] ids) => SequenceTaskFixture.Tokenizer.Decode(ids);

    [TestMethod]
    public void TheReverserLooksAtTheMirroredSourcePosition()
    {
        // To write the t-th output of a reversal the decoder must read source position n-1-t: the trained model's
        // attention over the source should say so in at least one layer.
        var generator = Generator;
        var config = SequenceTaskFixture.Config;
        var hits = new int[config.DecoderLayers];
        int rows = 0;
        foreach (var (source, target) in HeldOut)
        {
            var map = generator.CrossAttention(Text(source), Text(target));
            Assert.HasCount(source.Length + 1, map.SourceTokens);
            Assert.HasCount(target.Length + 1, map.TargetTokens);
            Assert.AreEqual("</s>", map.SourceTokens[^1]);
            CollectionAssert.AreEqual(source.Select(id => SequenceTaskFixture.Tokenizer.Decode([id])).ToArray(), map.SourceTokens.Take(source.Length).ToArray());
            for (int layer = 0; layer < map.Layers; layer++)
            {
                var average = map.Average(layer);
                for (int t = 0; t < target.Length; t++)
                {
                    int best = Enumerable.Range(0, source.Length + 1).MaxBy(s => average[t, s]);
                    if (best == source.Length - 1 - t)
                        hits[layer]++;
                }
            }

            rows += target.Length;
        }

        double[] share = [.. hits.Select(h => h / (double)rows)];
        Console.WriteLine($"rows whose strongest source position is the mirrored one, per layer: {string.Join(", ", share.Select(s => s.ToString("P1")))}");
        Assert.IsGreaterThanOrEqualTo(0.9, share.Max(), $"best layer aligns {share.Max():P1} of {rows} rows");
    }

    [TestMethod]
    public void WeightsAreDistributionsOverTheSourceForEveryLayerAndHead()
    {
        var (source, target) = HeldOut[0];
        var map = Generator.CrossAttention(Text(source), Text(target));
        Assert.AreEqual(SequenceTaskFixture.Config.DecoderLayers, map.Layers);
        Assert.AreEqual(SequenceTaskFixture.Config.Heads, map.Heads);
        for (int l = 0; l < map.Layers; l++)
            for (int h = 0; h < map.Heads; h++)
                for (int t = 0; t < map.TargetTokens.Count; t++)
                {
                    double sum = Enumerable.Range(0, map.SourceTokens.Count).Sum(s => (double)map[l, h, t, s]);
                    Assert.AreEqual(1.0, sum, 1e-5, $"layer {l} head {h} row {t}");
                }

        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => map.Average(map.Layers));
        Assert.ThrowsExactly<ArgumentException>(() => Generator.CrossAttention(new string('a', 40), "b"));
    }

    [TestMethod]
    public void RecordingTheWeightsLeavesTheDecoderOutputUnchanged()
    {
        var model = SequenceTaskFixture.ReverseModel;
        model.eval();
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var (sourceIds, targetIds) = HeldOut[1];
        var source = tensor(sourceIds.Append(GenerationTokenizer.EosId).Select(i => (long)i).ToArray()).unsqueeze(0);
        var target = tensor(targetIds.Prepend(GenerationTokenizer.BosId).Select(i => (long)i).ToArray()).unsqueeze(0);
        var memory = model.Encode(source);
        var plain = model.Decode(target, memory);
        var recorded = new List<Tensor>();
        var withWeights = model.Decode(target, memory, crossAttentionWeights: recorded);
        try
        {
            Assert.HasCount(model.Config.DecoderLayers, recorded);
            CollectionAssert.AreEqual(new long[] { 1, model.Config.Heads, target.shape[1], source.shape[1] }, recorded[0].shape);
            Assert.IsLessThanOrEqualTo(1e-5, (plain - withWeights).abs().max().ToDouble());
        }
        finally
        {
            recorded.ForEach(t => t.Dispose());
        }
    }
}
