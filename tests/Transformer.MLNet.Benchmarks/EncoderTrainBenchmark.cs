using System.Globalization;
using Transformer.MLNet.Network.Training;

namespace Transformer.MLNet.Benchmarks;

/// <summary>
/// Training throughput of our <c>EncoderLayer</c> against TorchSharp's built-in
/// <c>nn.TransformerEncoderLayer</c> (float32), same sizes (d=512, h=8, d_ff=2048, dropout 0.1, seq 128, batch 16):
/// forward, backward and an AdamW step, in tokens per second. Ours runs in float32 or in bfloat16 with float32
/// master weights; the peer always runs in float32. Steps alternate between the two; the median step counts.
/// </summary>
internal sealed class EncoderTrainBenchmark(TrainingPrecision precision) : IBenchmark
{
    private const int Batch = 16, Length = 128;

    public string Name => precision == TrainingPrecision.Float32 ? "encoder-train-fp32" : "encoder-train-bf16";

    public string Description =>
        $"one encoder layer (d={LayerTrainingRig.ModelDim}, h={LayerTrainingRig.Heads}, d_ff={LayerTrainingRig.FeedForwardDim}, seq {Length}, batch {Batch}) forward+backward+AdamW, tokens/s; " +
        $"ours in {(precision == TrainingPrecision.Float32 ? "fp32" : "bf16 with fp32 master weights")} vs built-in nn.TransformerEncoderLayer in fp32";

    public BenchmarkResult Run(BenchmarkOptions options)
    {
        int steps = options.Quick ? 4 : 15;
        Network.Training.Seeding.Apply(1);
        using var ours = LayerTrainingRig.Ours(precision, Batch, Length, options.Device);
        using var peer = LayerTrainingRig.BuiltIn(Batch, Length, options.Device);

        ours.Step();
        peer.Step();
        // Single steps alternate so that a burst of load from other processes hits both sides alike; the median
        // step of each side counts.
        var ourRates = new List<double>();
        var peerRates = new List<double>();
        var ourCpuRates = new List<double>();
        var peerCpuRates = new List<double>();
        for (int i = 0; i < steps; i++)
        {
            var (wall, cpu) = ours.TimedStep();
            ourRates.Add(wall);
            ourCpuRates.Add(cpu);
            (wall, cpu) = peer.TimedStep();
            peerRates.Add(wall);
            peerCpuRates.Add(cpu);
        }

        double ourMedian = Statistics.Median(ourRates), peerMedian = Statistics.Median(peerRates);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"   {steps} alternating steps each: ours {ourRates.Min():F0}-{ourRates.Max():F0} (median {ourMedian:F0}), " +
            $"peer {peerRates.Min():F0}-{peerRates.Max():F0} (median {peerMedian:F0}) tokens/s; best-step ratio {ourRates.Max() / peerRates.Max():F3}; " +
            $"parameters {ours.ParameterCount:N0} vs {peer.ParameterCount:N0}"));
        // Per CPU-second of this process: steadier than wall time when other processes share the cores.
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"   per CPU-second: ours median {Statistics.Median(ourCpuRates):F0}, peer median {Statistics.Median(peerCpuRates):F0} tokens/s, ratio {Statistics.Median(ourCpuRates) / Statistics.Median(peerCpuRates):F3}"));
        return new BenchmarkResult(Name, ourMedian, peerMedian, ourMedian / peerMedian, "tokens/s",
            precision == TrainingPrecision.Float32 ? 1.0 : 1.5);
    }
}
