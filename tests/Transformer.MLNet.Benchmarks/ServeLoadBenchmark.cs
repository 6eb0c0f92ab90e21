using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Transformer.MLNet.Examples.Data;
using Transformer.MLNet.Examples.Service;

namespace Transformer.MLNet.Benchmarks;

/// <summary>
/// The example service under load: Kestrel on 127.0.0.1 (an ephemeral port) in this process, N clients each sending
/// POST /sentiment with batches of 8 STS-B sentences, a bounded number of requests within a time limit. Peer: the
/// same loaded pipeline called in-process on the same batches, one after another (its best configuration: same
/// batch size, same length sorting, no gate, no thread hop). The two alternate in rounds, so that load from other
/// processes falls on both alike; each side's figure is its texts over its time summed over the rounds.
/// </summary>
internal sealed class ServeLoadBenchmark : IBenchmark
{
    private const int TextsPerRequest = 8;
    private const int RssWindow = 1000;
    private const int Rounds = 5;

    public string Name => "serve-load";

    public string Description =>
        "texts/s: POST /sentiment over HTTP on 127.0.0.1 (Kestrel, concurrent clients) vs the same pipeline called in-process";

    public BenchmarkResult Run(BenchmarkOptions options) => RunAsync(options).GetAwaiter().GetResult();

    private async Task<BenchmarkResult> RunAsync(BenchmarkOptions options)
    {
        int clients = 4;
        int requests = options.Quick ? 100 : 2000;   // 2,000: the first and the last 1,000 are compared for RSS growth
        var timeLimit = TimeSpan.FromSeconds(options.Quick ? 90 : 480);
        int peerRequestsPerRound = options.Quick ? 8 : 40;
        var batches = StsBenchmark.Read("test").SelectMany(p => new[] { p.Sentence1, p.Sentence2 })
            .Chunk(TextsPerRequest).Where(b => b.Length == TextsPerRequest).Select(b => (IReadOnlyList<string>)b).ToList();

        await using var app = ServiceApplication.Build([], builder =>
        {
            builder.WebHost.UseUrls("http://127.0.0.1:0");   // loopback only, a free port
            builder.Logging.AddFilter("Microsoft", LogLevel.Warning);
        });
        await app.StartAsync();
        string address = app.Urls.Single();
        var model = app.Services.GetRequiredService<SentimentModel>();
        Console.WriteLine($"   service on {address}; {clients} clients, {requests:N0} requests of {TextsPerRequest} texts in {Rounds} rounds, " +
            $"at most {timeLimit.TotalSeconds:F0} s; intra-op threads {TorchSharp.torch.get_num_threads()}; load average {LoadAverage()}");

        using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = clients })
        {
            BaseAddress = new Uri(address), Timeout = TimeSpan.FromSeconds(120),
        };
        for (int i = 0; i < 4; i++)
        {
            (await http.PostAsJsonAsync("/sentiment", new TextsRequest([.. batches[i]]))).EnsureSuccessStatusCode();
            model.Predict(batches[i]);
        }

        var load = new LoadState(requests, TimeSpan.FromTicks(timeLimit.Ticks), MemoryStreamBenchmark.CurrentRssMb());
        double peerSeconds = 0;
        int peerTexts = 0;
        for (int round = 0; round < Rounds; round++)
        {
            var clock = Stopwatch.StartNew();
            for (int i = 0; i < peerRequestsPerRound; i++)
                peerTexts += model.Predict(batches[(round * peerRequestsPerRound + i) % batches.Count]).Count;
            peerSeconds += clock.Elapsed.TotalSeconds;
            await load.Run(http, batches, clients, upTo: requests * (round + 1) / Rounds);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"   round {round + 1}: in-process {peerTexts / peerSeconds:F1} texts/s, HTTP {load.Answered * TextsPerRequest / load.Seconds:F1} texts/s so far; load average {LoadAverage()}"));
        }

        double served = load.Answered * TextsPerRequest / load.Seconds, peer = peerTexts / peerSeconds;
        double rssEnd = MemoryStreamBenchmark.CurrentRssMb();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"   HTTP: {load.Sent:N0} sent, {load.Answered:N0} answered 200 with {TextsPerRequest} predictions, {load.Errors} errors, " +
            $"{load.Sent - load.Answered - load.Errors} dropped, {load.NotSent} not sent (time limit); {load.Seconds:F1} s; " +
            $"{load.Answered / load.Seconds:F2} requests/s, {served:F1} texts/s; in-process {peer:F1} texts/s"));
        var latencies = load.Latencies.Where(l => l > 0).ToArray();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"   latency p50 {Percentile(latencies, 0.50):F1} ms, p99 {Percentile(latencies, 0.99):F1} ms, max {latencies.DefaultIfEmpty().Max():F1} ms"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"   RSS at start {load.RssStart:F0} MB, after the first {RssWindow:N0} requests {load.RssAfterFirstWindow:F0} MB, at the end {rssEnd:F0} MB " +
            $"(growth over the last {RssWindow:N0}: {100 * (rssEnd / load.RssAfterFirstWindow - 1):F1}%)"));
        await app.StopAsync();
        return new BenchmarkResult(Name, served, peer, served / peer, "texts/s", Target: 0.8);
    }

    /// <summary>The HTTP side across rounds: counters, latencies and RSS samples.</summary>
    private sealed class LoadState(int total, TimeSpan limit, double rssStart)
    {
        private readonly Stopwatch _sinceStart = new();
        private int _next = -1, _sent, _answered, _errors, _notSent, _completed;

        public double[] Latencies { get; } = new double[total];

        public int Sent => _sent;

        public int Answered => _answered;

        public int Errors => _errors;

        public int NotSent => _notSent;

        /// <summary>Seconds spent serving (the rounds' HTTP phases only).</summary>
        public double Seconds => _sinceStart.Elapsed.TotalSeconds;

        public double RssStart { get; } = rssStart;

        public double RssAfterFirstWindow { get; private set; } = rssStart;

        /// <summary>Sends requests until <paramref name="upTo"/> have been issued in all, from <paramref name="clients"/> clients.</summary>
        public async Task Run(HttpClient http, IReadOnlyList<IReadOnlyList<string>> batches, int clients, int upTo)
        {
            _sinceStart.Start();
            await Task.WhenAll(Enumerable.Range(0, clients).Select(_ => Task.Run(() => Client(http, batches, upTo))));
            _sinceStart.Stop();
            _next = upTo - 1;   // each client's last increment overshot; the next round starts at upTo
        }

        private async Task Client(HttpClient http, IReadOnlyList<IReadOnlyList<string>> batches, int upTo)
        {
            int i;
            while ((i = Interlocked.Increment(ref _next)) < upTo)
            {
                if (_sinceStart.Elapsed > limit)
                {
                    Interlocked.Increment(ref _notSent);
                    continue;
                }

                Interlocked.Increment(ref _sent);
                long started = Stopwatch.GetTimestamp();
                try
                {
                    using var response = await http.PostAsJsonAsync("/sentiment", new TextsRequest([.. batches[i % batches.Count]]));
                    var body = response.IsSuccessStatusCode ? await response.Content.ReadFromJsonAsync<SentimentResponse>() : null;
                    Interlocked.Increment(ref body?.Predictions.Count == TextsPerRequest ? ref _answered : ref _errors);
                }
                catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
                {
                    Interlocked.Increment(ref _errors);
                }

                Latencies[i] = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
                if (Interlocked.Increment(ref _completed) == RssWindow)
                    RssAfterFirstWindow = MemoryStreamBenchmark.CurrentRssMb();
            }
        }
    }

    private static double Percentile(double[] values, double p)
    {
        if (values.Length == 0)
            return double.NaN;
        var sorted = values.Order().ToArray();
        return sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(p * sorted.Length) - 1)];
    }

    private static string LoadAverage() =>
        File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "unknown";
}
