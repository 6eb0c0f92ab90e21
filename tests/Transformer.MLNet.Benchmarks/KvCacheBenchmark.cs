using System.Diagnostics;
using TorchSharp;
using Transformer.MLNet.Network.Configuration;
using Transformer.MLNet.Network.Generation;
using Transformer.MLNet.Network.Models;
using Transformer.MLNet.Network.Training;
using static TorchSharp.torch;

namespace Transformer.MLNet.Benchmarks;

/// <summary>
/// Greedy decoding of 256 new tokens with a decoder-only model: ours reuses attention keys and values through the
/// key/value cache, the peer recomputes the whole prefix at every step (the same model and prompt, measured in the
/// same run). Figures are generated tokens per second; the outputs are checked to be identical.
/// </summary>
internal sealed class KvCacheBenchmark : IBenchmark
{
    private const int NewTokens = 256;

    public string Name => "kv-cache";

    public string Description => $"greedy decoding of {NewTokens} new tokens, decoder-only d=256 L=4, batch 4: with vs without the key/value cache (tokens/s)";

    public BenchmarkResult Run(BenchmarkOptions options)
    {
        var config = TransformerConfig.Base with
        {
            Name = "bench", VocabSize = 1000, ModelDim = 256, Heads = 4, FeedForwardDim = 1024, EncoderLayers = 0, DecoderLayers = 4,
            Dropout = 0, MaxPositions = 512, PreLayerNorm = true, PositionalEncoding = PositionalEncodingKind.Learned,
        };
        Seeding.Apply(5);
        using var model = new DecoderOnlyModel(config);
        model.eval();
        int repeats = options.Quick ? 1 : 3;

        // eos = -1 never matches, so every run generates exactly NewTokens tokens.
        (double Seconds, int[][] Tokens) Decode(bool useCache)
        {
            using var noGrad = no_grad();
            using var scope = NewDisposeScope();
            using var prompt = randint(4, config.VocabSize, [4, 16], dtype: ScalarType.Int64, generator: new Generator(11));
            using var scorer = new DecoderOnlyScorer(model, prompt, useCache);
            var clock = Stopwatch.StartNew();
            int[][] tokens = GreedySearch.Run(scorer, NewTokens, eosId: -1);
            return (clock.Elapsed.TotalSeconds, tokens);
        }

        Decode(true);   // warm-up
        var cached = Enumerable.Range(0, repeats).Select(_ => Decode(true)).MinBy(r => r.Seconds);
        var uncached = Enumerable.Range(0, repeats).Select(_ => Decode(false)).MinBy(r => r.Seconds);
        bool identical = cached.Tokens.Zip(uncached.Tokens).All(x => x.First.SequenceEqual(x.Second));
        Console.WriteLine($"   with cache {cached.Seconds:F2} s, without {uncached.Seconds:F2} s (best of {repeats}); outputs identical: {identical}");
        if (!identical)
            throw new InvalidOperationException("Greedy outputs with and without the key/value cache differ.");

        double ours = 4.0 * NewTokens / cached.Seconds, peer = 4.0 * NewTokens / uncached.Seconds;
        return new BenchmarkResult(Name, ours, peer, ours / peer, "tokens/s", Target: 5.0);
    }
}
