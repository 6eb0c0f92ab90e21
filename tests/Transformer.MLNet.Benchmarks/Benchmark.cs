using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using Transformer.MLNet.Examples.Common;
using Transformer.MLNet.Network.Runtime;

namespace Transformer.MLNet.Benchmarks;

/// <summary>One side-by-side measurement: ours against a peer measured in the same run.</summary>
internal interface IBenchmark
{
    string Name { get; }

    string Description { get; }

    BenchmarkResult Run(BenchmarkOptions options);
}

/// <param name="Name">Benchmark name.</param>
/// <param name="Ours">Our figure.</param>
/// <param name="Peer">The peer's figure.</param>
/// <param name="Ratio">Higher is better for us.</param>
/// <param name="Unit">Unit of <paramref name="Ours"/> and <paramref name="Peer"/>.</param>
/// <param name="Target">The ratio we aim for, if any.</param>
/// <param name="Limit">The hardware or physical limit the ratio is read against, if one applies (words).</param>
internal sealed record BenchmarkResult(string Name, double Ours, double Peer, double Ratio, string Unit, double? Target = null, string? Limit = null)
{
    public string SummaryLine => string.Create(CultureInfo.InvariantCulture, $"{Name}: ours={Ours:G6} peer={Peer:G6} ratio={Ratio:F3}");
}

/// <param name="Names">Benchmarks to run; empty = all.</param>
/// <param name="Quick">Fewer steps and rows (smoke run).</param>
/// <param name="Device">Where the TorchSharp code runs: CPU, or CUDA with <c>--device cuda</c>.</param>
internal sealed record BenchmarkOptions(IReadOnlyList<string> Names, bool Quick, TorchSharp.torch.Device Device)
{
    /// <summary>
    /// Whether bfloat16 is worth timing on <see cref="Device"/>: on a CPU without bfloat16 instructions libtorch's bf16
    /// products take a reference kernel tens of times slower than fp32 (more than a quarter of an hour for one
    /// `matmul-peak` line on an AVX2-only EPYC), so there is nothing to learn.
    /// </summary>
    public bool MeasuresBFloat16 => Device.type != TorchSharp.DeviceType.CPU || CpuFeatures.HasNativeBFloat16;

    /// <summary>What a benchmark prints instead of a bfloat16 figure when <see cref="MeasuresBFloat16"/> is false.</summary>
    public const string BFloat16NotMeasured = "not measured, this processor has no bfloat16 instructions (see docs/options.md, Precision)";

    public static BenchmarkOptions Parse(string[] args)
    {
        var names = new List<string>();
        bool quick = false;
        var device = TorchSharp.torch.CPU;
        for (int i = 0; i < args.Length; i++)
        {
            if (args[i] == "--quick")
                quick = true;
            else if (args[i] == "--device")
                device = ParseDevice(i + 1 < args.Length ? args[++i] : "");
            else if (args[i].StartsWith("--", StringComparison.Ordinal))
                throw new ArgumentException($"Unknown option '{args[i]}'. Options: --quick, --device cpu|cuda[:N].");
            else
                names.Add(args[i]);
        }

        return new(names, quick, device);
    }

    private static TorchSharp.torch.Device ParseDevice(string value)
    {
        if (value == "cpu")
            return TorchSharp.torch.CPU;
        if (value.StartsWith("cuda", StringComparison.Ordinal))
        {
            int index = value.Length > 5 && value[4] == ':' ? int.Parse(value[5..], CultureInfo.InvariantCulture) : 0;
            return Network.Runtime.TorchDevices.Select(index, fallbackToCpu: false);
        }

        throw new ArgumentException($"--device '{value}': use cpu, cuda or cuda:N.");
    }
}

internal static class BenchmarkRegistry
{
    public static IReadOnlyList<IBenchmark> All { get; } =
    [
        // First, so that its peak RSS is not inherited from the other benchmarks' models in this process.
        new MemoryStreamBenchmark(),
        new EncoderTrainBenchmark(Network.Training.TrainingPrecision.Float32),
        new EncoderTrainBenchmark(Network.Training.TrainingPrecision.BFloat16),
        new EmbedBenchmark(bfloat16: false),
        new EmbedBenchmark(bfloat16: true),
        new OnnxEmbedBenchmark(),
        new PipelineOverheadBenchmark(),
        new KvCacheBenchmark(),
        new MatmulPeakBenchmark(),
        new GemmBenchmark(),
        new TrainScalingBenchmark(),
        new FinetuneClassifierBenchmark(),
        new FinetuneContentionBenchmark(),
#if SERVE_LOAD
        new ServeLoadBenchmark(),
#endif
    ];

    public static IBenchmark Find(string name) =>
        All.FirstOrDefault(b => b.Name == name)
        ?? throw new ArgumentException($"Unknown benchmark '{name}'. Known: {string.Join(", ", All.Select(b => b.Name))}.");
}

internal static class MachineDescription
{
    public static string Describe() =>
        $"machine: {CpuModel()}, {RuntimeInformation.OSDescription}, {RuntimeInformation.ProcessArchitecture}, " +
        $"{Environment.ProcessorCount} logical cores, {TotalMemoryGiB()}, .NET {Environment.Version}, TorchSharp threads {TorchSharp.torch.get_num_threads()}" +
        $" (OMP_NUM_THREADS={Environment.GetEnvironmentVariable("OMP_NUM_THREADS") ?? "unset"}), float32 projections on the CPU by " +
        (Network.Kernels.Projection.UsesGemm ? "our 512-bit-vector product" : "libtorch's matmul") +
        (Network.Kernels.InferenceWeights.Available ? ", batched inference on weights packed once per pass (256-bit kernel)" : "");

    private static string CpuModel() =>
        File.Exists("/proc/cpuinfo")
            ? File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim() ?? "unknown CPU"
            : "unknown CPU";

    private static string TotalMemoryGiB() =>
        string.Create(CultureInfo.InvariantCulture, $"{GC.GetGCMemoryInfo().TotalAvailableMemoryBytes / (1024.0 * 1024 * 1024):F0} GiB");
}

internal static class BenchmarkReport
{
    public static string MarkdownTable(IEnumerable<BenchmarkResult> results)
    {
        var table = new StringBuilder("| benchmark | ours | peer | unit | ratio | limit / target |\n|---|---:|---:|---|---:|---|\n");
        foreach (var r in results)
        {
            string goal = r.Target is { } t ? $"≥ {t:F2} {(r.Ratio >= t ? "(met)" : "(missed)")}" : "";
            if (r.Limit is { } limit)
                goal = goal.Length == 0 ? limit : $"{goal}; {limit}";
            table.Append(CultureInfo.InvariantCulture,
                $"| {r.Name} | {r.Ours:G4} | {r.Peer:G4} | {r.Unit} | {r.Ratio:F2} | {goal} |\n");
        }

        return table.ToString();
    }

    /// <summary>Writes results.md (machine + table) and results.png (ratios against their targets).</summary>
    public static void Write(IReadOnlyList<BenchmarkResult> results, string folder)
    {
        Directory.CreateDirectory(folder);
        string markdown = Path.Combine(folder, "results.md");
        File.WriteAllText(markdown, $"{MachineDescription.Describe()}\n\n{MarkdownTable(results)}");
        string chart = Charts.SaveBars(Path.Combine(folder, "results.png"), "Transformer.MLNet vs peers (ratio, higher is better)",
            "ours / peer", results.Select(r => r.Name).ToList(), results.Select(r => r.Ratio).ToList(), reference: 1.0);
        Console.WriteLine($"wrote {markdown} and {chart}");
    }
}
