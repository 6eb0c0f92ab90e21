using System.Diagnostics;
using System.Globalization;
using TorchSharp;
using Transformer.MLNet.Network.Configuration;
using Transformer.MLNet.Network.Modules;
using Transformer.MLNet.Network.Training;
using static TorchSharp.torch;

namespace Transformer.MLNet.Benchmarks;

/// <summary>
/// Training throughput of our <see cref="EncoderLayer"/> against TorchSharp's built-in
/// <c>nn.TransformerEncoderLayer</c> (float32), same sizes (d=512, h=8, d_ff=2048, dropout 0.1, seq 128, batch 16):
/// forward, backward and an AdamW step, in tokens per second. Ours runs in float32 or in bfloat16 with float32
/// master weights; the peer always runs in float32. Steps alternate between the two; the median step counts.
/// </summary>
internal sealed class EncoderTrainBenchmark(TrainingPrecision precision) : IBenchmark
{
    private const int Batch = 16, Length = 128, ModelDim = 512, Heads = 8, FeedForwardDim = 2048;
    private const double Dropout = 0.1;

    public string Name => precision == TrainingPrecision.Float32 ? "encoder-train-fp32" : "encoder-train-bf16";

    public string Description =>
        $"one encoder layer (d={ModelDim}, h={Heads}, d_ff={FeedForwardDim}, seq {Length}, batch {Batch}) forward+backward+AdamW, tokens/s; " +
        $"ours in {(precision == TrainingPrecision.Float32 ? "fp32" : "bf16 with fp32 master weights")} vs built-in nn.TransformerEncoderLayer in fp32";

    public BenchmarkResult Run(BenchmarkOptions options)
    {
        int steps = options.Quick ? 4 : 15;
        Seeding.Apply(1);
        var config = TransformerConfig.Base with { ModelDim = ModelDim, Heads = Heads, FeedForwardDim = FeedForwardDim, Dropout = Dropout };
        var training = new TrainingOptions { MaxGradientNorm = 0, WarmupSteps = 0, Decay = LearningRateDecay.Constant };

        var ours = new EncoderLayer(config);
        ours.train();
        using var ourUpdater = new ParameterUpdater(ours, training with { Precision = precision });
        var peer = nn.TransformerEncoderLayer(ModelDim, Heads, FeedForwardDim, Dropout);
        peer.train();
        using var peerUpdater = new ParameterUpdater(peer, training);

        var ourDtype = precision == TrainingPrecision.Float32 ? ScalarType.Float32 : ScalarType.BFloat16;
        using var input = randn(Batch, Length, ModelDim);                            // (B, T, D)
        using var ourInput = input.to_type(ourDtype);
        using var peerInput = input.transpose(0, 1).contiguous();                    // the built-in layer takes (T, B, D)

        void OurStep()
        {
            using var scope = NewDisposeScope();
            var output = ours.forward(ourInput, null).to_type(ScalarType.Float32);
            ourUpdater.Backward(output.pow(2).mean());
        }

        void PeerStep()
        {
            using var scope = NewDisposeScope();
            peerUpdater.Backward(peer.call(peerInput).pow(2).mean());
        }

        OurStep();
        PeerStep();
        // Single steps alternate so that a burst of load from other processes hits both sides alike; the median
        // step of each side counts.
        var ourRates = new List<double>();
        var peerRates = new List<double>();
        var ourCpuRates = new List<double>();
        var peerCpuRates = new List<double>();
        for (int i = 0; i < steps; i++)
        {
            var (wall, cpu) = TokensPerSecond(OurStep);
            ourRates.Add(wall);
            ourCpuRates.Add(cpu);
            (wall, cpu) = TokensPerSecond(PeerStep);
            peerRates.Add(wall);
            peerCpuRates.Add(cpu);
        }

        double ourMedian = Median(ourRates), peerMedian = Median(peerRates);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"   {steps} alternating steps each: ours {ourRates.Min():F0}-{ourRates.Max():F0} (median {ourMedian:F0}), " +
            $"peer {peerRates.Min():F0}-{peerRates.Max():F0} (median {peerMedian:F0}) tokens/s; best-step ratio {ourRates.Max() / peerRates.Max():F3}; " +
            $"parameters {ours.ParameterCount():N0} vs {peer.ParameterCount():N0}"));
        // Per CPU-second of this process: steadier than wall time when other processes share the cores.
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"   per CPU-second: ours median {Median(ourCpuRates):F0}, peer median {Median(peerCpuRates):F0} tokens/s, ratio {Median(ourCpuRates) / Median(peerCpuRates):F3}"));
        return new BenchmarkResult(Name, ourMedian, peerMedian, ourMedian / peerMedian, "tokens/s",
            precision == TrainingPrecision.Float32 ? 1.0 : 1.5);
    }

    private static (double Wall, double Cpu) TokensPerSecond(Action step)
    {
        using var process = Process.GetCurrentProcess();
        var cpuBefore = process.TotalProcessorTime;
        var clock = Stopwatch.StartNew();
        step();
        double wall = clock.Elapsed.TotalSeconds;
        process.Refresh();
        return (Batch * Length / wall, Batch * Length / (process.TotalProcessorTime - cpuBefore).TotalSeconds);
    }

    private static double Median(List<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[sorted.Count / 2 - 1] + sorted[sorted.Count / 2]) / 2;
    }
}
