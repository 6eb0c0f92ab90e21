using System.Diagnostics;
using Microsoft.ML;
using Microsoft.ML.Data;
using Transformer.MLNet.Embeddings;
using Transformer.MLNet.Examples.Data;
using Transformer.MLNet.Network.Embeddings;
using Transformer.MLNet.Network.Pretrained;

namespace Transformer.MLNet.Benchmarks;

/// <summary>
/// Sentence embeddings of real sentences through the ML.NET featurizer (lazy cursor, read-ahead batches) against the
/// same encoder called directly with all texts at once. Both encode with MiniLM-L6, mean pooling, batches of 32.
/// </summary>
internal sealed class PipelineOverheadBenchmark : IBenchmark
{
    public string Name => "pipeline-overhead";

    public string Description => "texts/s: ApplySentenceEmbedding through an ML.NET cursor vs. SentenceEncoder.Encode directly";

    public BenchmarkResult Run(BenchmarkOptions options)
    {
        var texts = ReadSentences(options.Quick ? 256 : 1024);
        var mlContext = new MLContext(seed: 0) { GpuDeviceId = options.Device.type == TorchSharp.DeviceType.CUDA ? options.Device.index : null };
        var data = mlContext.Data.LoadFromEnumerable(texts.Select(t => new Row { Text = t }).ToList());
        using var transformer = mlContext.Transforms.Text.ApplySentenceEmbedding("Features", nameof(Row.Text), inferenceBatchSize: 32).Fit(data);
        using var model = PretrainedBert.LoadMiniLm();
        using var encoder = SentenceEncoder.FromPretrained(model, new SentenceEncoderOptions { BatchSize = 32 }, options.Device);

        double Ours()
        {
            var clock = Stopwatch.StartNew();
            var transformed = transformer.Transform(data);
            using var cursor = transformed.GetRowCursor([transformed.Schema["Features"]]);
            var getter = cursor.GetGetter<VBuffer<float>>(transformed.Schema["Features"]);
            VBuffer<float> value = default;
            long rows = 0;
            while (cursor.MoveNext())
            {
                getter(ref value);
                rows++;
            }

            return rows / clock.Elapsed.TotalSeconds;
        }

        double Peer()
        {
            var clock = Stopwatch.StartNew();
            var vectors = encoder.Encode(texts);
            return vectors.Length / clock.Elapsed.TotalSeconds;
        }

        // Warm up both, then alternate so that load from other processes hits both sides alike.
        Ours();
        Peer();
        var ours = new List<double>();
        var peer = new List<double>();
        for (int round = 0; round < (options.Quick ? 2 : 3); round++)
        {
            ours.Add(Ours());
            peer.Add(Peer());
            Console.WriteLine($"   round {round + 1}: ours {ours[^1]:F1} texts/s, peer {peer[^1]:F1} texts/s");
        }

        double bestOurs = ours.Max(), bestPeer = peer.Max();
        return new BenchmarkResult(Name, bestOurs, bestPeer, bestOurs / bestPeer, "texts/s", Target: 0.9);
    }

    private static List<string> ReadSentences(int count)
    {
        // STS-B test: columns 5 and 6 (0-based) hold the two sentences of a pair; tab-separated.
        string path = DataDirectory.Resolve("stsbenchmark", "sts-test.csv");
        return File.ReadAllText(path).Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(line => line.Split('\t'))
            .Where(fields => fields.Length >= 7)
            .SelectMany(fields => new[] { fields[5], fields[6] })
            .Take(count)
            .ToList();
    }

    private sealed class Row
    {
        public string Text { get; set; } = "";
    }
}
