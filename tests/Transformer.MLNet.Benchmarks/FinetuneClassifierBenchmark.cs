using System.Globalization;
using Transformer.MLNet.Examples.Data;
using Transformer.MLNet.Network.Classification;
using Transformer.MLNet.Network.Configuration;
using Transformer.MLNet.Network.Runtime;
using Transformer.MLNet.Network.Training;
using static TorchSharp.torch;

namespace Transformer.MLNet.Benchmarks;

/// <summary>
/// How close fine-tuning is to the hardware: the packaged MiniLM-L6 fine-tuned as a sentiment classifier on the UCI
/// yelp sentences (their real length distribution, batch 16, at most 64 tokens, frozen token embeddings, as the
/// sentiment example trains) through the real trainer (<see cref="TextClassifierTrainer"/>: length-bucketed batches,
/// AdamW, clipping, schedule). Its model FLOP/s — counted from the encoder's shapes and the padded length of every
/// batch it trained on — against the best fp32 square matmul measured in the same run; ratio = utilisation.
/// </summary>
/// <remarks>
/// FLOPs of one token at padded length T, per layer: 6·(4d² + 2·d·d_ff) for the weight matmuls forward and backward,
/// plus 12·T·d for attention scores and the weighted sum (Kaplan et al. 2020, "Scaling Laws for Neural Language
/// Models", section 2.1); the embeddings and the 2-class head are left out. The batches are the trainer's own: the same
/// <see cref="LengthBuckets"/> rule, seed and window, recomputed here from the same token counts.
/// </remarks>
internal sealed class FinetuneClassifierBenchmark : IBenchmark
{
    private const int Batch = 16, MaxTokens = 64, Seed = 1;

    /// <summary>The classification trainer's batches per sorted window.</summary>
    private const int WindowBatches = TextClassifierTrainer.WindowBatches;

    public string Name => "finetune-classifier";

    public string Description =>
        $"MiniLM-L6 fine-tuning on UCI yelp sentences (batch {Batch}, ≤ {MaxTokens} tokens, fp32) through the real trainer: " +
        "model FLOP/s (6·P + 12·T·d per padded token) vs fp32 square matmul FLOP/s measured in the same run; ratio = utilisation";

    public BenchmarkResult Run(BenchmarkOptions options)
    {
        int steps = options.Quick ? 10 : 60, warmupSteps = options.Quick ? 3 : 8;
        var (texts, labels) = Yelp();

        // The peak is a best case: measured before and after the fine-tuning, the better of the two counts, so that a
        // burst of load from elsewhere during one measurement does not flatter the ratio.
        int repeats = options.Quick ? 3 : 6;
        double peak = MatmulPeakBenchmark.MatmulFlops(ScalarType.Float32, repeats, options.Device);
        var fp32 = Measure(TrainingPrecision.Float32, texts, labels, steps, warmupSteps, options.Device);
        peak = Math.Max(peak, MatmulPeakBenchmark.MatmulFlops(ScalarType.Float32, repeats, options.Device));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"   fp32: {steps} updates in {fp32.Seconds:F2} s, {fp32.ExamplesPerSecond:F1} examples/s, {fp32.Flops / fp32.Seconds / 1e9:F1} model GFLOP/s; " +
            $"padded tokens {fp32.PaddedTokens:N0} for {fp32.RealTokens:N0} real ({(double)fp32.PaddedTokens / fp32.RealTokens:F2}×), mean padded length {fp32.MeanLength:F1}"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"   fp32 square matmul peak {peak / 1e9:F1} GFLOP/s; per real token the utilisation would be {fp32.Flops * fp32.RealTokens / fp32.PaddedTokens / fp32.Seconds / peak:P1}"));

        Profile(texts, labels, options.Quick ? 8 : 30, options.Device);

        // bfloat16 (fp32 master weights): a side note, and only where the processor has bfloat16 instructions.
        if (options.MeasuresBFloat16)
        {
            var bf16 = Measure(TrainingPrecision.BFloat16, texts, labels, steps, warmupSteps, options.Device);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"   side note, bf16 with fp32 master weights: {bf16.ExamplesPerSecond:F1} examples/s, {bf16.ExamplesPerSecond / fp32.ExamplesPerSecond:F2}× fp32"));
        }
        else
        {
            Console.WriteLine($"   side note: bf16 {BenchmarkOptions.BFloat16NotMeasured}");
        }

        double ours = fp32.Flops / fp32.Seconds;
        return new BenchmarkResult(Name, ours / 1e9, peak / 1e9, ours / peak, "GFLOP/s", Target: 0.6,
            Limit: "limit 1.0 = fp32 matmul peak of this run");
    }

    /// <summary>The UCI yelp sentences and their labels (1 = positive).</summary>
    internal static (List<string> Texts, List<int> Labels) Yelp()
    {
        var sentences = UciSentiment.Read("yelp");
        return ([.. sentences.Select(s => s.Text)], [.. sentences.Select(s => s.Positive ? 1 : 0)]);
    }

    internal sealed record Measurement(double Seconds, double Flops, long PaddedTokens, long RealTokens, int Examples, double MeanLength)
    {
        public double ExamplesPerSecond => Examples / Seconds;
    }

    /// <summary>A warm-up fine-tuning, then a measured one of <paramref name="steps"/> updates from the packaged weights.</summary>
    internal static Measurement Measure(TrainingPrecision precision, IReadOnlyList<string> texts, IReadOnlyList<int> labels, int steps, int warmupSteps, Device device)
    {
        var settings = new TextClassifierSettings(2, MaxTokens, Dropout: 0.1);
        ClassifierTrainingOptions Options(int maxSteps) => new()
        {
            Epochs = 10,
            MaxSteps = maxSteps,
            BatchSize = Batch,
            Seed = Seed,
            FreezeTokenEmbeddings = true,
            ReportEvery = 1000,
            Optimization = new ClassifierTrainingOptions().Optimization with { Precision = precision },
        };

        int[] lengths;
        TransformerConfig config;
        var (warm, _) = TextClassifierTrainer.Fit(null, null, settings, texts, labels, Options(warmupSteps), device: device);
        using (warm)
        {
            lengths = [.. warm.Encode(texts, null, "second", out _).Select(e => e.Ids.Length)];
            config = warm.EncoderConfig;
        }

        var (model, result) = TextClassifierTrainer.Fit(null, null, settings, texts, labels, Options(steps), device: device);
        model.Dispose();
        if (result.Steps != steps)
            throw new InvalidOperationException($"The trainer made {result.Steps} updates, not {steps}.");

        // The trainer's batches: the same rule, seed and window over the same token counts, epoch after epoch.
        var random = new Random(Seed);
        var rows = Enumerable.Range(0, texts.Count).ToList();
        var batches = new List<int[]>();
        while (batches.Count < steps)
            batches.AddRange(LengthBuckets.Batches(rows, r => lengths[r], Batch, WindowBatches, random));
        double flops = 0;
        long padded = 0, real = 0;
        int examples = 0;
        // On the CPU with two or more intra-op threads the trainer computes each batch as two halves, each padded to
        // its own longest text and split by the trainer's rule (Training/SplitMicroBatch): those are the lengths computed.
        bool halves = device.type == TorchSharp.DeviceType.CPU && SplitMicroBatch.Applies;
        foreach (var batch in batches.Take(steps))
        {
            int first = halves && batch.Length >= 2 ? SplitMicroBatch.FirstHalf(batch.Length, [.. batch.Select(r => lengths[r])]) : batch.Length;
            foreach (var part in first < batch.Length ? new[] { batch[..first], batch[first..] } : [batch])
            {
                int length = part.Max(r => lengths[r]);
                padded += (long)part.Length * length;
                flops += (double)part.Length * length * FlopsPerToken(config, length);
            }
            real += batch.Sum(r => (long)lengths[r]);
            examples += batch.Length;
        }

        return new Measurement(result.Elapsed.TotalSeconds, flops, padded, real, examples, (double)padded / examples);
    }

    /// <summary>
    /// Where a step's time goes, on the trainer's batches of the same model: tokenization (all sentences, once per run),
    /// forward with the loss (input tensors included), backward alone, and the update (gradient clipping + AdamW over the
    /// trainable parameters: every weight except the frozen 30522 × 384 word embeddings), each timed on its own;
    /// allocations and collections of the managed heap.
    /// </summary>
    private static void Profile(IReadOnlyList<string> texts, IReadOnlyList<int> labels, int steps, Device device)
    {
        var settings = new TextClassifierSettings(2, MaxTokens, Dropout: 0.1);
        var (classifier, _) = TextClassifierTrainer.Fit(null, null, settings, texts, labels,
            new ClassifierTrainingOptions { MaxSteps = 2, Seed = Seed, FreezeTokenEmbeddings = true }, device: device);
        using (classifier)
        {
            var clock = System.Diagnostics.Stopwatch.StartNew();
            var inputs = classifier.Encode(texts, null, "second", out _);
            double tokenize = clock.Elapsed.TotalSeconds;
            var batches = LengthBuckets.Batches([.. Enumerable.Range(0, texts.Count)], r => inputs[r].Ids.Length, Batch, WindowBatches, new Random(Seed));
            classifier.Model.TokenEmbeddings.requires_grad_(false);
            classifier.Model.train();
            // Backward and update timed apart: with accumulation over more micro-batches than the profile runs, Backward
            // only back-propagates, and Flush applies the update (clipping + AdamW) from that one batch's gradients.
            using var updater = new ParameterUpdater(classifier.Model, new ClassifierTrainingOptions().Optimization with { WarmupSteps = 0, AccumulationSteps = int.MaxValue });
            long trainable = classifier.Model.parameters().Where(p => p.requires_grad).Sum(p => p.numel());
            Tensor Loss(int[] batch)
            {
                var logits = classifier.Logits([.. batch.Select(r => inputs[r])]);
                var expected = tensor(batch.Select(r => (long)labels[r]).ToArray(), device: device);
                return nn.functional.cross_entropy(logits, expected);
            }

            double forward = 0, backward = 0, update = 0;
            long allocated = GC.GetTotalAllocatedBytes(precise: true);
            int collections = GC.CollectionCount(0);
            var measured = batches.Take(steps + 1).ToList();
            for (int i = 0; i < measured.Count; i++)
            {
                double f, b, u;
                using (var scope = NewDisposeScope())
                {
                    clock.Restart();
                    var loss = Loss(measured[i]);
                    loss.item<float>();
                    f = clock.Elapsed.TotalSeconds;
                    clock.Restart();
                    updater.Backward(loss);
                    b = clock.Elapsed.TotalSeconds;
                    clock.Restart();
                    if (!updater.Flush())
                        throw new InvalidOperationException("The profile's update did not run.");
                    u = clock.Elapsed.TotalSeconds;
                }

                if (i == 0)
                {
                    allocated = GC.GetTotalAllocatedBytes(precise: true);     // the first batch warms up
                    collections = GC.CollectionCount(0);
                    continue;
                }

                forward += f;
                backward += b;
                update += u;
            }

            classifier.Model.TokenEmbeddings.requires_grad_(true);
            int n = measured.Count - 1;
            double step = forward + backward + update;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"   profile, fp32, {n} batches (ms per step): forward {1e3 * forward / n:F1} ({forward / step:P0}), backward {1e3 * backward / n:F1} ({backward / step:P0}), " +
                $"update {1e3 * update / n:F1} ({update / step:P0}; clipping + AdamW over {trainable:N0} trainable parameters); " +
                $"tokenization {1e3 * tokenize / texts.Count * Batch:F2} ms per batch of {Batch}; managed allocations {(GC.GetTotalAllocatedBytes(precise: true) - allocated) / n / 1024.0:F0} KB " +
                $"and {GC.CollectionCount(0) - collections} gen-0 collections over the {n} steps"));
        }
    }

    /// <summary>Training FLOPs of one token at padded length <paramref name="length"/> through every encoder layer.</summary>
    private static double FlopsPerToken(TransformerConfig config, int length)
    {
        double d = config.ModelDim, ff = config.FeedForwardDim;
        return config.EncoderLayers * (6.0 * (4.0 * d * d + 2.0 * d * ff) + 12.0 * length * d);
    }
}

/// <summary>
/// Fine-tuning beside a competing CPU-bound process: the <c>finetune-classifier</c> measurement alone, then again while
/// a second copy of this program fine-tunes the same model (<c>--compete</c>) on the same cores. Ours = examples/s with
/// the competitor, peer = examples/s alone; ratio = the share of its quiet speed fine-tuning keeps.
/// </summary>
internal sealed class FinetuneContentionBenchmark : IBenchmark
{
    public string Name => "finetune-contention";

    public string Description => "MiniLM-L6 fine-tuning examples/s beside a second copy fine-tuning on the same cores vs alone (fp32); ratio = share of the quiet speed kept";

    public BenchmarkResult Run(BenchmarkOptions options)
    {
        int steps = options.Quick ? 10 : 40, warmupSteps = options.Quick ? 3 : 8;
        var (texts, labels) = FinetuneClassifierBenchmark.Yelp();
        Console.WriteLine($"   {OpenMpWaitPolicy.Variable}={OpenMpWaitPolicy.NativeValue(OpenMpWaitPolicy.Variable) ?? "(unset)"}, {Environment.ProcessorCount} cores, {get_num_threads()} intra-op threads");

        var quiet = FinetuneClassifierBenchmark.Measure(TrainingPrecision.Float32, texts, labels, steps, warmupSteps, options.Device);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"   alone: {quiet.ExamplesPerSecond:F1} examples/s"));

        double contendedRate, competitorRate;
        using (var competitor = Competitor.Start(TimeSpan.FromSeconds(options.Quick ? 120 : 300)))
        {
            contendedRate = FinetuneClassifierBenchmark.Measure(TrainingPrecision.Float32, texts, labels, steps, warmupSteps, options.Device).ExamplesPerSecond;
            competitorRate = competitor.Stop();
        }

        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"   beside the competitor: {contendedRate:F1} examples/s ({contendedRate / quiet.ExamplesPerSecond:F2}× alone); the competitor's last round {competitorRate:F1} examples/s"));
        return new BenchmarkResult(Name, contendedRate, quiet.ExamplesPerSecond, contendedRate / quiet.ExamplesPerSecond, "examples/s",
            Target: 0.4, Limit: "limit 1.0 = no slowdown; 0.5 = a fair half of the cores");
    }

    /// <summary>Entry point of the competitor process (<c>--compete SECONDS</c>): fine-tunes in rounds of 20 updates until the time is up.</summary>
    public static int Compete(int seconds)
    {
        var (texts, labels) = FinetuneClassifierBenchmark.Yelp();
        var clock = System.Diagnostics.Stopwatch.StartNew();
        bool first = true;
        while (clock.Elapsed.TotalSeconds < seconds)
        {
            var round = FinetuneClassifierBenchmark.Measure(TrainingPrecision.Float32, texts, labels, 20, 2, CPU);
            if (first)
                Console.WriteLine("competing");
            first = false;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"rate {round.ExamplesPerSecond:F2}"));
        }

        return 0;
    }

    /// <summary>A second copy of this program fine-tuning MiniLM in a loop until stopped.</summary>
    private sealed class Competitor : IDisposable
    {
        private readonly System.Diagnostics.Process process;
        private double lastRate = double.NaN;
        private Task? reader;

        private Competitor(System.Diagnostics.Process process) => this.process = process;

        public static Competitor Start(TimeSpan limit)
        {
            string self = Environment.ProcessPath ?? throw new InvalidOperationException("No process path to start a competitor from.");
            var start = new System.Diagnostics.ProcessStartInfo(self) { RedirectStandardOutput = true, UseShellExecute = false };
            if (Path.GetFileNameWithoutExtension(self) == "dotnet")
                start.ArgumentList.Add(typeof(Competitor).Assembly.Location);
            start.ArgumentList.Add("--compete");
            start.ArgumentList.Add(((int)limit.TotalSeconds).ToString(CultureInfo.InvariantCulture));
            var competitor = new Competitor(System.Diagnostics.Process.Start(start) ?? throw new InvalidOperationException($"Could not start {self}."));
            // Its output is read on a thread of its own; measuring starts once it is past loading and warm-up and trains.
            var training = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
            competitor.reader = Task.Run(() =>
            {
                string? line;
                while ((line = competitor.process.StandardOutput.ReadLine()) is not null)
                {
                    if (line.StartsWith("competing", StringComparison.Ordinal))
                        training.TrySetResult(true);
                    else if (line.StartsWith("rate ", StringComparison.Ordinal))
                        Volatile.Write(ref competitor.lastRate, double.Parse(line[5..], CultureInfo.InvariantCulture));
                }

                training.TrySetResult(false);
            });
            if (!training.Task.Result)
                throw new InvalidOperationException("The competitor ended before it trained.");
            return competitor;
        }

        /// <summary>Stops the competitor; returns the rate of its last finished round.</summary>
        public double Stop()
        {
            if (!process.HasExited)
                process.Kill(entireProcessTree: true);
            process.WaitForExit();
            reader?.Wait();
            return Volatile.Read(ref lastRate);
        }

        public void Dispose()
        {
            Stop();
            process.Dispose();
        }
    }
}
