using System.Diagnostics;
using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.Data;
using TorchSharp;
using Transformer.MLNet.Embeddings;
using Transformer.MLNet.Examples.Data;

namespace Transformer.MLNet.Benchmarks;

/// <summary>
/// Flat memory while streaming: rows flow through <c>ApplySentenceEmbedding</c> from a lazy source and the cursor
/// is consumed row by row, nothing materialised. Peak RSS is the kernel's high-water mark (VmHWM in
/// /proc/self/status, which includes native libtorch memory), reset once the model is loaded (writing 5 to
/// /proc/self/clear_refs) so that earlier benchmarks in the process do not count: after 1,000 rows (peer, measured
/// first in the same process) and after 100,000 more rows (ours); ratio = peer / ours, 1 = flat. Texts are short synthetic sentences
/// (2–3 words drawn from the STS-B test vocabulary, seeded) so that 100,000 MiniLM forward passes fit in minutes on
/// two cores; batches of 512, bfloat16 (the faster CPU path: the stream is about memory, not accuracy).
/// </summary>
internal sealed class MemoryStreamBenchmark : IBenchmark
{
    private const int WarmRows = 1_000, FullRows = 100_000, QuickRows = 10_000, BatchSize = 512;

    public string Name => "memory-stream";

    public string Description => $"peak RSS (VmHWM, MB) streaming rows through ApplySentenceEmbedding: after {FullRows:N0} rows (ours) vs after {WarmRows:N0} (peer); ratio = peer/ours";

    public BenchmarkResult Run(BenchmarkOptions options)
    {
        int rows = options.Quick ? QuickRows : FullRows;
        if (options.Quick)
            Console.WriteLine($"   --quick: streaming {rows:N0} rows instead of {FullRows:N0}");
        var vocabulary = Vocabulary();
        var mlContext = new MLContext(seed: 0) { GpuDeviceId = options.Device.type == TorchSharp.DeviceType.CUDA ? options.Device.index : null };
        var schemaOnly = mlContext.Data.LoadFromEnumerable(Sentences(vocabulary, 0));
        using var transformer = mlContext.Transforms.Text.ApplySentenceEmbedding(
            new SentenceEmbeddingOptions { OutputColumnName = "Features", InputColumnName = nameof(Row.Text), InferenceBatchSize = BatchSize, MaxTokens = 8, UseBFloat16 = true })
            .Fit(schemaOnly);

        // What earlier benchmarks in this process left for the finalizers goes first, so that the peak is this stream's.
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        ResetPeakRss();
        long liveBefore = LiveTensors;
        Console.WriteLine($"   live tensors on this thread before: {liveBefore}; RSS now {CurrentRssMb():F0} MB; GC {System.Runtime.GCSettings.IsServerGC switch { true => "server", false => "workstation" }}");
        var (warmRate, _) = Stream(transformer, mlContext.Data.LoadFromEnumerable(Sentences(vocabulary, WarmRows)), WarmRows);
        double peer = PeakRssMb();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"   after {WarmRows:N0} rows: peak RSS {peer:F0} MB, current {CurrentRssMb():F0} MB, live tensors {LiveTensors} ({warmRate:F0} rows/s)"));

        var (rate, samples) = Stream(transformer, mlContext.Data.LoadFromEnumerable(Sentences(vocabulary, rows)), rows);
        double ours = PeakRssMb();
        long liveAfter = LiveTensors;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"   after {rows:N0} more rows: peak RSS {ours:F0} MB, current {CurrentRssMb():F0} MB, live tensors {liveAfter} ({rate:F0} rows/s)"));
        Console.WriteLine($"   current RSS / managed heap committed every {rows / samples.Count:N0} rows (MB): {string.Join(" ", samples)}");
        Console.WriteLine($"   live tensors before/after: {liveBefore}/{liveAfter} (DisposeScopeManager.Statistics.ThreadTotalLiveCount)");
        return new BenchmarkResult(Name, ours, peer, peer / ours, "MB peak RSS", Target: 0.9);
    }

    private static long LiveTensors => DisposeScopeManager.Statistics.ThreadTotalLiveCount;

    /// <summary>Consumes every row's embedding; returns rows/s and ten samples of the current RSS along the way (the source is lazy, so its row count is passed).</summary>
    private static (double Rate, List<string> Samples) Stream(ITransformer transformer, IDataView source, int rows)
    {
        var transformed = transformer.Transform(source);
        var column = transformed.Schema["Features"];
        var samples = new List<string>();
        var clock = Stopwatch.StartNew();
        long count = 0;
        using (var cursor = transformed.GetRowCursor([column]))
        {
            var getter = cursor.GetGetter<VBuffer<float>>(column);
            VBuffer<float> value = default;
            long every = Math.Max(1, rows / 10);
            while (cursor.MoveNext())
            {
                getter(ref value);
                if (value.Length != 384 || float.IsNaN(value.GetValues()[0]))
                    throw new InvalidOperationException($"Row {count}: unexpected embedding (length {value.Length}).");
                if (++count % every == 0)
                    samples.Add(string.Create(CultureInfo.InvariantCulture, $"{CurrentRssMb():F0}/{GC.GetGCMemoryInfo().TotalCommittedBytes / 1048576.0:F0}"));
            }
        }

        return (count / clock.Elapsed.TotalSeconds, samples);
    }

    /// <summary>Lowercase words of 2–12 letters from the STS-B test sentences.</summary>
    private static string[] Vocabulary() =>
        StsBenchmark.Read("test")
            .SelectMany(p => (p.Sentence1 + " " + p.Sentence2).Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Select(w => w.Trim('.', ',', '"', '\'', '?', '!', ';', ':', '(', ')').ToLowerInvariant())
            .Where(w => w.Length is >= 2 and <= 12 && w.All(char.IsAsciiLetter))
            .Distinct().Order(StringComparer.Ordinal).ToArray();

    /// <summary>A lazy, re-enumerable source of <paramref name="count"/> seeded sentences: nothing is held in memory.</summary>
    private static IEnumerable<Row> Sentences(string[] vocabulary, int count)
    {
        var random = new Random(count);
        for (int i = 0; i < count; i++)
        {
            int words = random.Next(2, 4);
            yield return new Row { Text = string.Join(' ', Enumerable.Range(0, words).Select(_ => vocabulary[random.Next(vocabulary.Length)])) };
        }
    }

    private static double PeakRssMb() => StatusFieldMb("VmHWM:");

    /// <summary>Resets VmHWM to the current RSS (Linux 4.0+, proc(5) clear_refs).</summary>
    private static void ResetPeakRss()
    {
        try
        {
            File.WriteAllText("/proc/self/clear_refs", "5");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Console.WriteLine($"   note: could not reset the peak RSS ({e.Message}); peaks include earlier benchmarks in this process");
        }
    }

    internal static double CurrentRssMb() => StatusFieldMb("VmRSS:");

    /// <summary>A "kB" field of /proc/self/status, in MB.</summary>
    private static double StatusFieldMb(string field)
    {
        string line = File.ReadLines("/proc/self/status").First(l => l.StartsWith(field, StringComparison.Ordinal));
        return long.Parse(line[field.Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture) / 1024.0;
    }

    private sealed class Row
    {
        public string Text { get; set; } = "";
    }
}
