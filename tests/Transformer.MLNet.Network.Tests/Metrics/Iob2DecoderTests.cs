using Transformer.MLNet.Network.Metrics;

namespace Transformer.MLNet.Network.Tests.Metrics;

[TestClass]
public sealed class Iob2DecoderTests
{
    private static readonly string[] s_labels = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"];

    [TestMethod]
    public void An_I_tag_that_continues_nothing_is_never_emitted()
    {
        var decoder = new Iob2Decoder(s_labels);
        // Word by word the best tags are O, I-PER, I-LOC: invalid twice over.
        float[][] scores =
        [
            [-0.1f, -3f, -4f, -5f, -5f],
            [-2f, -1.5f, -0.5f, -4f, -4f],
            [-3f, -3f, -1f, -2f, -0.2f],
        ];
        string[] tags = [.. decoder.Decode(scores).Select(i => s_labels[i])];
        CollectionAssert.AreEqual(new[] { "O", "B-PER", "I-PER" }, tags);
        Assert.IsEmpty(new Iob2Decoder(s_labels).Decode([]));
    }

    [TestMethod]
    public void Viterbi_equals_brute_force_over_every_valid_sequence()
    {
        var decoder = new Iob2Decoder(s_labels);
        var random = new Random(7);
        for (int trial = 0; trial < 200; trial++)
        {
            int words = 1 + random.Next(5);
            float[][] scores = [.. Enumerable.Range(0, words).Select(_ => Enumerable.Range(0, s_labels.Length).Select(_ => (float)(random.NextDouble() * -6)).ToArray())];
            int[] decoded = decoder.Decode(scores);

            double best = double.NegativeInfinity;
            foreach (int[] sequence in AllSequences(words, s_labels.Length))
            {
                if (IsValid(sequence))
                    best = Math.Max(best, Total(scores, sequence));
            }

            Assert.IsTrue(IsValid(decoded), $"trial {trial}: decoded an invalid sequence");
            Assert.AreEqual(best, Total(scores, decoded), 1e-9, $"trial {trial}");
        }
    }

    [TestMethod]
    public void Bad_label_sets_and_scores_are_clear_errors()
    {
        var orphan = Assert.ThrowsExactly<ArgumentException>(() => new Iob2Decoder(["O", "I-ORG"]));
        StringAssert.Contains(orphan.Message, "'I-ORG' has no 'B-ORG'");
        Assert.ThrowsExactly<ArgumentException>(() => new Iob2Decoder(["O", "PER"]));
        var decoder = new Iob2Decoder(s_labels);
        StringAssert.Contains(Assert.ThrowsExactly<ArgumentException>(() => decoder.Decode([[0f, 0f]])).Message, "Word 0 has 2 scores");
        StringAssert.Contains(Assert.ThrowsExactly<ArgumentException>(() => decoder.Decode([[0f, float.NaN, 0f, 0f, 0f]])).Message, "not finite");
    }

    private static bool IsValid(int[] sequence) =>
        EntitySpans.ToIob2(EntitySpans.FromIob2([.. sequence.Select(i => s_labels[i])]), sequence.Length)
            .SequenceEqual(sequence.Select(i => s_labels[i]));

    private static double Total(float[][] scores, int[] sequence) => sequence.Select((label, t) => (double)scores[t][label]).Sum();

    private static IEnumerable<int[]> AllSequences(int length, int labels)
    {
        var current = new int[length];
        while (true)
        {
            yield return (int[])current.Clone();
            int position = 0;
            while (position < length && ++current[position] == labels)
                current[position++] = 0;
            if (position == length)
                yield break;
        }
    }
}
