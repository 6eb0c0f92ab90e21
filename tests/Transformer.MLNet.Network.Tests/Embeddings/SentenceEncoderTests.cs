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
    public void Concurrent_calls_give_the_same_rows_as_sequential_ones()
    {
        using var encoder = SentenceEncoder.FromPretrained(MiniLmFixture.Model, new SentenceEncoderOptions { BatchSize = 2 });
        var expected = encoder.Encode(Texts);
        var results = new float[4][][];
        Parallel.For(0, results.Length, i => results[i] = encoder.Encode(Texts));
        foreach (var result in results)
        {
            for (int row = 0; row < Texts.Length; row++)
                CollectionAssert.AreEqual(expected[row], result[row]);
        }
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
        string[] texts = [Texts[1], Texts[2], Texts[4]];
        int threads = get_num_threads();
        set_num_threads(1);   // intra-op threads stall on a busy shared CI machine; this test is about lifetimes
        try
        {
            encoder.Encode(texts);
            long baseline = TorchSharp.DisposeScopeManager.Statistics.ThreadTotalLiveCount;
            for (int i = 0; i < 10; i++)
                encoder.Encode(texts);
            Assert.AreEqual(baseline, TorchSharp.DisposeScopeManager.Statistics.ThreadTotalLiveCount);
        }
        finally
        {
            set_num_threads(threads);
        }
    }

    [TestMethod]
    public void A_bfloat16_encoder_prepares_its_weights_once_and_frees_them_on_dispose()
    {
        // On the calling thread (Threads = 1), where the lifetime statistics see every tensor.
        long before = TorchSharp.DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        var encoder = SentenceEncoder.FromPretrained(MiniLmFixture.Model, new SentenceEncoderOptions { BatchSize = 2, Threads = 1, UseBFloat16 = true });
        long built = Transformer.MLNet.Network.Kernels.InferenceWeights.Built;
        var first = encoder.Encode(Texts);
        var second = encoder.Encode(Texts);
        encoder.Encode([.. Texts.Take(2)]);   // one batch: no prepared weights needed
        Assert.AreEqual(1, Transformer.MLNet.Network.Kernels.InferenceWeights.Built - built, "weights prepared at the first call of several batches only");
        for (int i = 0; i < Texts.Length; i++)
            CollectionAssert.AreEqual(first[i], second[i], Texts[i]);
        using (var fresh = SentenceEncoder.FromPretrained(MiniLmFixture.Model, new SentenceEncoderOptions { BatchSize = 2, Threads = 1, UseBFloat16 = true }))
        {
            var again = fresh.Encode(Texts);
            for (int i = 0; i < Texts.Length; i++)
                CollectionAssert.AreEqual(first[i], again[i], Texts[i]);
        }

        encoder.Dispose();
        Assert.AreEqual(before, TorchSharp.DisposeScopeManager.Statistics.ThreadTotalLiveCount, "the copy and its prepared weights freed");

        // A float32 encoder on the caller's model prepares them on every call: the model may change in between.
        using var shared = SentenceEncoder.FromPretrained(MiniLmFixture.Model, new SentenceEncoderOptions { BatchSize = 2, Threads = 1 });
        built = Transformer.MLNet.Network.Kernels.InferenceWeights.Built;
        shared.Encode(Texts);
        shared.Encode(Texts);
        Assert.AreEqual(2, Transformer.MLNet.Network.Kernels.InferenceWeights.Built - built);
    }

    [TestMethod]
    public void Leaving_the_padding_out_of_the_layers_keeps_the_embeddings()
    {
        foreach (bool bfloat16 in new[] { false, true })
        {
            using var encoder = SentenceEncoder.FromPretrained(MiniLmFixture.Model, new SentenceEncoderOptions { BatchSize = 3, Threads = 2, UseBFloat16 = bfloat16 });
            try
            {
                Transformer.MLNet.Network.Bert.BertModel.UnpaddedOverride = false;
                var padded = encoder.Encode(Texts);
                Transformer.MLNet.Network.Bert.BertModel.UnpaddedOverride = null;
                var unpadded = encoder.Encode(Texts);
                for (int i = 0; i < Texts.Length; i++)
                    Assert.IsGreaterThan(bfloat16 ? 0.9999 : 0.9999999, EmbeddingSimilarity.Cosine(padded[i], unpadded[i]), $"{Texts[i]}, bfloat16 {bfloat16}");
            }
            finally
            {
                Transformer.MLNet.Network.Bert.BertModel.UnpaddedOverride = null;
            }
        }
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
