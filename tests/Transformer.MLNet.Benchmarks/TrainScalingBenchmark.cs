using System.Globalization;
using System.Text;
using Transformer.MLNet.Network.Training;

namespace Transformer.MLNet.Benchmarks;

/// <summary>
/// How training cost grows: tokens/s of our encoder layer (fp32, forward+backward+AdamW) over sequence lengths
/// 128, 256, 512 and batch sizes 4, 8, 16 (median step of each cell). The summary compares length 512 with 128 at
/// batch 8: attention's share (12·T·d of 6·P + 12·T·d FLOPs per token) grows with T, so the ratio is below 1;
/// it shows the cost growth and has no target.
/// </summary>
internal sealed class TrainScalingBenchmark : IBenchmark
{
    private static readonly int[] s_lengths = [128, 256, 512];
    private static readonly int[] s_batches = [4, 8, 16];
    private const int SummaryBatch = 8;

    public string Name => "train-scaling";

    public string Description => "our encoder layer training tokens/s over seq 128/256/512 × batch 4/8/16; ours = seq 512, peer = seq 128 (batch 8)";

    public BenchmarkResult Run(BenchmarkOptions options)
    {
        int steps = options.Quick ? 2 : 3;
        var rates = new Dictionary<(int Length, int Batch), double>();
        foreach (int length in s_lengths)
        {
            foreach (int batch in s_batches)
            {
                Network.Training.Seeding.Apply(1);
                using var rig = LayerTrainingRig.Ours(TrainingPrecision.Float32, batch, length, options.Device);
                rates[(length, batch)] = Statistics.Median(rig.Measure(steps));
            }
        }

        var grid = new StringBuilder($"   tokens/s (median of {steps} steps)   " + string.Concat(s_batches.Select(b => $"{"batch " + b,12}")) + "\n");
        foreach (int length in s_lengths)
        {
            grid.Append(CultureInfo.InvariantCulture, $"   seq {length,-30}");
            foreach (int batch in s_batches)
                grid.Append(CultureInfo.InvariantCulture, $"{rates[(length, batch)],12:F0}");
            grid.Append(CultureInfo.InvariantCulture,
                $"   (model FLOPs/token {LayerTrainingRig.TrainingFlopsPerToken(length) / 1e6:F1} M)\n");
        }

        Console.Write(grid);
        double ours = rates[(512, SummaryBatch)], peer = rates[(128, SummaryBatch)];
        return new BenchmarkResult(Name, ours, peer, ours / peer, "tokens/s",
            Limit: string.Create(CultureInfo.InvariantCulture, $"no target; FLOPs/token ratio {LayerTrainingRig.TrainingFlopsPerToken(128) / LayerTrainingRig.TrainingFlopsPerToken(512):F2}"));
    }
}
