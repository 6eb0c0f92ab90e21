using TorchSharp;
using Transformer.MLNet.Network.Models;
using static TorchSharp.torch;

namespace Transformer.MLNet.Network.Tests.Models;

/// <summary>Random symbol sequences for the copy and reverse tasks, and greedy decoding to score them.</summary>
internal static class ToySequences
{
    public const long Pad = 0, Bos = 1, Eos = 2, FirstSymbol = 3;

    /// <summary>A batch of right-padded sources and their target ids (BOS + output + EOS, right-padded).</summary>
    public static (long[,] Source, long[,] Target, long[][] Expected) Batch(Random random, int batch, int minLength, int maxLength, int symbols, bool reverse)
    {
        var source = new long[batch, maxLength + 1];
        var target = new long[batch, maxLength + 2];
        var expected = new long[batch][];
        for (int b = 0; b < batch; b++)
        {
            int length = random.Next(minLength, maxLength + 1);
            var sequence = Enumerable.Range(0, length).Select(_ => FirstSymbol + random.Next(symbols)).ToArray();
            var output = reverse ? sequence.Reverse().ToArray() : sequence;
            for (int i = 0; i < length; i++)
                source[b, i] = sequence[i];
            source[b, length] = Eos;
            target[b, 0] = Bos;
            for (int i = 0; i < length; i++)
                target[b, i + 1] = output[i];
            target[b, length + 1] = Eos;
            expected[b] = output;
        }

        return (source, target, expected);
    }

    /// <summary>Greedy decoding with the key/value cache, until EOS or <paramref name="maxLength"/> tokens.</summary>
    public static long[][] GreedyDecode(EncoderDecoderModel model, Tensor source, int maxLength)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var padding = model.PaddingMask(source);
        var memory = model.Encode(source, padding);
        long batch = source.shape[0];
        var outputs = Enumerable.Range(0, (int)batch).Select(_ => new List<long>()).ToArray();
        var finished = new bool[batch];
        using var cache = model.NewCache();
        var next = full(batch, 1, Bos, ScalarType.Int64);
        for (int step = 0; step < maxLength && !finished.All(f => f); step++)
        {
            var logits = model.Project(model.Decode(next, memory, padding, cache));   // (B, 1, V)
            next = logits.argmax(-1);                                                // (B, 1)
            var ids = next.data<long>().ToArray();
            for (int b = 0; b < batch; b++)
            {
                if (finished[b])
                    continue;
                if (ids[b] == Eos)
                    finished[b] = true;
                else
                    outputs[b].Add(ids[b]);
            }
        }

        return outputs.Select(o => o.ToArray()).ToArray();
    }
}
