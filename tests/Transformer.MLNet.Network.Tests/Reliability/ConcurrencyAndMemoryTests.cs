using System.Diagnostics;
using Transformer.MLNet.Network.Embeddings;
using TorchSharp;

namespace Transformer.MLNet.Network.Tests.Reliability;

/// <summary>One classifier shared by many threads gives the sequential results; many predictions leak no tensors.</summary>
[TestClass]
public sealed class ConcurrencyAndMemoryTests
{
    [TestMethod]
    [TestCategory("Reliability")]
    public void Eight_threads_sharing_one_classifier_get_the_sequential_logits()
    {
        const int Threads = 8, CallsPerThread = 25;
        using var oneOpThread = IntraOpThreads.UseOne();
        var (texts, _) = TinyClassifiers.Sentences("yelp", 200);
        using var classifier = TinyClassifiers.New(4);
        var sequential = texts.Select(t => classifier.PredictLogits([t])[0]).ToArray();
        var parallel = new float[Threads][][];
        using var start = new Barrier(Threads);
        var workers = Enumerable.Range(0, Threads).Select(w => new Thread(() =>
        {
            start.SignalAndWait();
            parallel[w] = Enumerable.Range(0, CallsPerThread).Select(i => classifier.PredictLogits([texts[(w * CallsPerThread + i) % texts.Length]])[0]).ToArray();
        })).ToList();
        workers.ForEach(w => w.Start());
        workers.ForEach(w => w.Join());
        for (int w = 0; w < Threads; w++)
        {
            for (int i = 0; i < CallsPerThread; i++)
                CollectionAssert.AreEqual(sequential[(w * CallsPerThread + i) % texts.Length], parallel[w][i], $"thread {w} call {i}");
        }

        Console.WriteLine($"concurrency: {Threads} threads x {CallsPerThread} calls = sequential logits");
    }

    [TestMethod]
    [TestCategory("Reliability")]
    public void Ten_thousand_predictions_leave_live_tensors_at_baseline_and_memory_flat()
    {
        using var threads = IntraOpThreads.UseOne();
        var (texts, _) = TinyClassifiers.Sentences("imdb", 500);
        using var classifier = TinyClassifiers.New(4);
        for (int i = 0; i < 200; i++)
            classifier.PredictLogits([texts[i % texts.Length]]);
        GC.Collect();
        GC.WaitForPendingFinalizers();
        long tensorsBefore = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        long rssBefore = Process.GetCurrentProcess().WorkingSet64;
        for (int i = 0; i < 10_000; i++)
        {
            var logits = classifier.PredictLogits([texts[i % texts.Length]]);
            Assert.IsTrue(float.IsFinite(logits[0][0]));
        }

        GC.Collect();
        GC.WaitForPendingFinalizers();
        long tensorsAfter = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        using var self = Process.GetCurrentProcess();
        long rssAfter = self.WorkingSet64;
        Console.WriteLine($"memory: 10000 predictions, live tensors {tensorsBefore} -> {tensorsAfter}, RSS {rssBefore / 1048576.0:F1} MiB -> {rssAfter / 1048576.0:F1} MiB");
        Assert.AreEqual(tensorsBefore, tensorsAfter, "leaked tensors");
        Assert.IsLessThan(64L * 1024 * 1024, rssAfter - rssBefore, "RSS grew by more than 64 MiB");
    }
}
