using System.Diagnostics;
using Transformer.MLNet.Benchmarks;
using Transformer.MLNet.Network.Runtime;

// Usage: dotnet run -c Release --project tests/Transformer.MLNet.Benchmarks -- [NAME ...] [--quick] [--device cpu|cuda[:N]]
//        ... -- --native-check [--device cuda]   (checks that TorchSharp's native libraries load and compute)
// Each benchmark prints its details and ends with one line "NAME: ours=X peer=Y ratio=R" (higher ratio = better for us).
if (args.Contains("--native-check"))
    return NativeCheck.Run([.. args.Where(a => a != "--native-check")]);

TorchRuntime.EnsureLoaded();
// The competing process that finetune-contention starts (a second copy of this program).
if (args.Length == 2 && args[0] == "--compete")
    return FinetuneContentionBenchmark.Compete(int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture));
var options = BenchmarkOptions.Parse(args);
var selected = options.Names.Count == 0
    ? BenchmarkRegistry.All
    : options.Names.Select(BenchmarkRegistry.Find).ToList();

Console.WriteLine(MachineDescription.Describe());
var results = new List<BenchmarkResult>();
foreach (var benchmark in selected)
{
    Console.WriteLine($"== {benchmark.Name}: {benchmark.Description}");
    var clock = Stopwatch.StartNew();
    var result = benchmark.Run(options);
    results.Add(result);
    Console.WriteLine($"   ({clock.Elapsed.TotalSeconds:F1} s)");
    Console.WriteLine(result.SummaryLine);
}

Console.WriteLine();
Console.WriteLine(BenchmarkReport.MarkdownTable(results));
BenchmarkReport.Write(results, Path.Combine("artifacts", "benchmarks"));
return 0;
