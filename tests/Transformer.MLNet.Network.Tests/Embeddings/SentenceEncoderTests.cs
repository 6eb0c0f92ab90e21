using Transformer.MLNet.Network.Embeddings;
using Transformer.MLNet.Network.Tests.Pretrained;
using static TorchSharp.torch;

namespace Transformer.MLNet.Network.Tests.Embeddings;

[TestClass]
public sealed class SentenceEncoderTests
{
    private static readonly string[] Texts =
    [
        "A man is playing a guitar on stage while the crowd cheers loudly.",
        "A dog runs.",
        "",
        "Two women are sitting on a bench in the park and talking about their plans for the summer holidays.",
        "The cat sleeps.",
    ];

    [TestMethod]
    public void Rows_come_back_in_input_order_whatever_the_batching_and_threads()
    {
        using var batched = SentenceEncoder.FromPretrained(MiniLmFixture.Model, new SentenceEncoderOptions { BatchSize = 2, Threads = 2 });
        using var single = SentenceEncoder.FromPretrained(MiniLmFixture.Model, new SentenceEncoderOptions { BatchSize = 1, Threads = 1 });
        var together = batched.Encode(Texts);
        Assert.HasCount(Texts.Length, together);
        for (int i = 0; i < Texts.Length; i++)
        {
            var alone = single.Encode([Texts[i]])[0];
            Assert.HasCount(384, alone);
            Assert.IsGreaterThan(0.999999, EmbeddingSimilarity.Cosine(alone, together[i]), Texts[i]);
        }
    }

    [TestMethod]
    public void Pooling_modes_read_the_real_tokens_only()
    {
        var bert = MiniLmFixture.Model;
        string text = Texts[0];
        var ids = bert.Tokenizer.EncodeToIds(text, 256, out _);
        float[] cls, mean, max;
        using (var scope = NewDisposeScope())
        using (var inference = inference_mode())
        {
            var hidden = bert.Model.forward(tensor(ids.Select(i => (long)i).ToArray(), [1, ids.Length]),
                ones([1, ids.Length], ScalarType.Int64), zeros([1, ids.Length], ScalarType.Int64))[0];   // (T, D)
            cls = hidden[0].data<float>().ToArray();
            mean = hidden.mean([0]).data<float>().ToArray();
            max = hidden.amax([0]).data<float>().ToArray();
        }

        // Padded next to a longer text, the pooled vectors must not change.
        var pair = new[] { text, Texts[3] };
        Vector Encode(Pooling pooling) => new(SentenceEncoder.FromPretrained(bert, new SentenceEncoderOptions { Pooling = pooling, Normalize = false }).Encode(pair)[0]);
        AssertClose(cls, Encode(Pooling.Cls).Values);
        AssertClose(mean, Encode(Pooling.Mean).Values);
        AssertClose(max, Encode(Pooling.Max).Values);
    }

    [TestMethod]
    public void Normalized_embeddings_have_unit_length()
    {
        using var encoder = SentenceEncoder.FromPretrained(MiniLmFixture.Model);
        foreach (var row in encoder.Encode(Texts))
            Assert.AreEqual(1.0, Math.Sqrt(row.Sum(v => (double)v * v)), 1e-5);
    }

    [TestMethod]
    public void BFloat16_stays_close_to_float32()
    {
        using var fp32 = SentenceEncoder.FromPretrained(MiniLmFixture.Model);
        using var bf16 = SentenceEncoder.FromPretrained(MiniLmFixture.Model, new SentenceEncoderOptions { UseBFloat16 = true });
        var a = fp32.Encode(Texts);
        var b = bf16.Encode(Texts);
        for (int i = 0; i < Texts.Length; i++)
            Assert.IsGreaterThan(0.99, EmbeddingSimilarity.Cosine(a[i], b[i]), Texts[i]);

        // bfloat16 keeps 8 significant bits: the results must be close, but not bit-identical to float32.
        double maxDiff = a.Zip(b, (x, y) => x.Zip(y, (p, q) => Math.Abs(p - q)).Max()).Max();
        Assert.IsGreaterThan(1e-4, maxDiff);
    }

    [TestMethod]
    public void Live_tensors_return_to_baseline_after_many_calls()
    {
        // Lifetime statistics are per thread: run on the calling thread (Threads = 1) to see every tensor.
        using var encoder = SentenceEncoder.FromPretrained(MiniLmFixture.Model, new SentenceEncoderOptions { BatchSize = 2, Threads = 1 });
        encoder.Encode(Texts);
        long baseline = TorchSharp.DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        for (int i = 0; i < 20; i++)
            encoder.Encode(Texts);
        Assert.AreEqual(baseline, TorchSharp.DisposeScopeManager.Statistics.ThreadTotalLiveCount);
    }

    [TestMethod]
    public void Bad_options_and_inputs_fail_with_clear_messages()
    {
        var bert = MiniLmFixture.Model;
        var tooLong = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => SentenceEncoder.FromPretrained(bert, new SentenceEncoderOptions { MaxTokens = 513 }));
        StringAssert.Contains(tooLong.Message, "MaxTokens");
        var batch = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => SentenceEncoder.FromPretrained(bert, new SentenceEncoderOptions { BatchSize = 0 }));
        StringAssert.Contains(batch.Message, "BatchSize");
        using var encoder = SentenceEncoder.FromPretrained(bert);
        var nullText = Assert.ThrowsExactly<ArgumentException>(() => encoder.Encode(["ok", null!]));
        StringAssert.Contains(nullText.Message, "Text 1 is null");
        Assert.IsEmpty(encoder.Encode([]));
    }

    private static void AssertClose(float[] expected, float[] actual)
    {
        Assert.HasCount(expected.Length, actual);
        double max = expected.Zip(actual, (e, a) => Math.Abs(e - a)).Max();
        Assert.IsLessThan(1e-4, max);
    }

    private sealed record Vector(float[] Values);
}
