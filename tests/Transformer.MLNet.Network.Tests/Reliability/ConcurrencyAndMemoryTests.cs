using System.Collections.Concurrent;
using System.Diagnostics;
using Transformer.MLNet.Network.Classification;
using Transformer.MLNet.Network.Embeddings;
using Transformer.MLNet.Network.Pretrained;
using Transformer.MLNet.Network.Runtime;
using TorchSharp;

namespace Transformer.MLNet.Network.Tests.Reliability;

/// <summary>One classifier shared by many threads gives the sequential results; many predictions leak no tensors;
/// disposing while other threads predict waits for them and never frees what they use.</summary>
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

    [TestMethod]
    [TestCategory("Reliability")]
    public void Disposing_a_classifier_while_six_threads_predict_lets_each_call_finish_or_throw_ObjectDisposedException()
    {
        using var oneOpThread = IntraOpThreads.UseOne();
        var (texts, _) = TinyClassifiers.Sentences("yelp", 40);
        var classifier = TinyClassifiers.New(4);
        var sequential = texts.Select(t => classifier.PredictLogits([t])[0]).ToArray();
        var outcome = DisposeWhileCalling(6, (w, i) =>
        {
            int row = (w * 7 + i) % texts.Length;
            CollectionAssert.AreEqual(sequential[row], classifier.PredictLogits([texts[row]])[0], $"thread {w} call {i}");
        }, classifier.Dispose);

        var error = Assert.ThrowsExactly<ObjectDisposedException>(() => classifier.PredictLogits([texts[0]]));
        StringAssert.Contains(error.ObjectName, nameof(TextClassifier));
        classifier.Dispose();   // again: nothing happens
        Console.WriteLine($"dispose during prediction: {outcome.Completed} calls completed, {outcome.Refused} refused with ObjectDisposedException");
    }

    [TestMethod]
    [TestCategory("Reliability")]
    public void Disposing_a_sentence_encoder_while_four_threads_encode_lets_each_call_finish_or_throw_ObjectDisposedException()
    {
        var (texts, _) = TinyClassifiers.Sentences("imdb", 24);
        string folder = Path.Combine(Path.GetTempPath(), $"encoder-{Guid.NewGuid():N}");
        try
        {
            using (var classifier = TinyClassifiers.New(5))
                classifier.Save(folder);
            using var pretrained = PretrainedBert.LoadFolder(folder);
            // bfloat16: the encoder converts a copy of the weights, which its Dispose frees; two workers per call.
            var encoder = SentenceEncoder.FromPretrained(pretrained, new SentenceEncoderOptions { UseBFloat16 = true, BatchSize = 4, MaxTokens = 32, Threads = 2 });
            var sequential = encoder.Encode(texts);
            var outcome = DisposeWhileCalling(4, (w, i) =>
            {
                var vectors = encoder.Encode(texts);
                for (int r = 0; r < texts.Length; r++)
                {
                    Assert.IsTrue(vectors[r].All(float.IsFinite), $"thread {w} call {i} row {r}: not finite");
                    CollectionAssert.AreEqual(sequential[r], vectors[r], $"thread {w} call {i} row {r}");
                }
            }, encoder.Dispose);

            var error = Assert.ThrowsExactly<ObjectDisposedException>(() => encoder.Encode(texts));
            StringAssert.Contains(error.ObjectName, nameof(SentenceEncoder));
            encoder.Dispose();
            Console.WriteLine($"dispose during encoding: {outcome.Completed} calls completed, {outcome.Refused} refused with ObjectDisposedException");
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [TestMethod]
    [TestCategory("Reliability")]
    public void UsageGuard_Dispose_waits_for_a_use_on_another_thread_then_releases_once()
    {
        var guard = new UsageGuard(typeof(ConcurrencyAndMemoryTests));
        int released = 0;
        using var inside = new ManualResetEventSlim();
        using var leave = new ManualResetEventSlim();
        var user = new Thread(() =>
        {
            using var use = guard.Enter();
            inside.Set();
            leave.Wait();
            Assert.AreEqual(0, Volatile.Read(ref released), "released while in use");
        });
        user.Start();
        inside.Wait();
        var disposer = Task.Run(() => guard.Dispose(() => Interlocked.Increment(ref released)));
        Assert.IsFalse(disposer.Wait(200), "Dispose returned while a use was inside");
        Assert.IsTrue(guard.IsDisposed);
        Assert.ThrowsExactly<ObjectDisposedException>(() => guard.Enter());
        leave.Set();
        user.Join();
        Assert.IsTrue(disposer.Wait(10_000) && disposer.Result, "Dispose did not finish once the use left");
        Assert.AreEqual(1, released);
        Assert.IsFalse(guard.Dispose(() => Interlocked.Increment(ref released)), "second Dispose");
        Assert.AreEqual(1, released);
        var error = Assert.ThrowsExactly<ObjectDisposedException>(() => guard.Enter());
        Assert.AreEqual(typeof(ConcurrencyAndMemoryTests).FullName, error.ObjectName);
    }

    [TestMethod]
    [TestCategory("Reliability")]
    public void UsageGuard_Dispose_from_inside_a_use_on_the_same_thread_releases_when_the_use_leaves()
    {
        var guard = new UsageGuard(typeof(ConcurrencyAndMemoryTests));
        int released = 0;
        using (guard.Enter())
        {
            using (guard.Enter())
            {
                Assert.IsTrue(guard.Dispose(() => released++), "Dispose from inside");   // would deadlock if it waited
                Assert.AreEqual(0, released);
                Assert.ThrowsExactly<ObjectDisposedException>(() => guard.Enter());
            }

            Assert.AreEqual(0, released, "released while the outer use is inside");
        }

        Assert.AreEqual(1, released);
        Assert.IsFalse(guard.Dispose(() => released++));
        Assert.AreEqual(1, released);
    }

    [TestMethod]
    [TestCategory("Reliability")]
    public void UsageGuard_lets_many_threads_inside_at_once()
    {
        const int Threads = 4;
        var guard = new UsageGuard(typeof(ConcurrencyAndMemoryTests));
        using var allInside = new CountdownEvent(Threads);
        var workers = Enumerable.Range(0, Threads).Select(_ => new Thread(() =>
        {
            using var use = guard.Enter();
            allInside.Signal();
            allInside.Wait();   // returns only if every thread is inside at the same time
        })).ToList();
        workers.ForEach(w => w.Start());
        Assert.IsTrue(workers.All(w => w.Join(10_000)), "the uses did not overlap");
        guard.Dispose(() => { });
    }

    // Threads call in a loop until a call throws ObjectDisposedException; once each has finished a few calls, the main
    // thread disposes. Every call must either complete (its checks pass) or throw ObjectDisposedException; after the
    // Dispose every thread must have been refused.
    private static (int Completed, int Refused) DisposeWhileCalling(int threads, Action<int, int> call, Action dispose)
    {
        const int CallsBeforeDispose = 3, MaxCalls = 100_000;
        using var warmedUp = new CountdownEvent(threads);
        var errors = new ConcurrentQueue<Exception>();
        int completed = 0, refused = 0;
        var workers = Enumerable.Range(0, threads).Select(w => new Thread(() =>
        {
            for (int i = 0; i < MaxCalls; i++)
            {
                try
                {
                    call(w, i);
                    Interlocked.Increment(ref completed);
                }
                catch (ObjectDisposedException)
                {
                    Interlocked.Increment(ref refused);
                    if (i < CallsBeforeDispose)
                        warmedUp.Signal();
                    return;
                }
                catch (Exception e)
                {
                    errors.Enqueue(e);
                    if (i < CallsBeforeDispose)
                        warmedUp.Signal();
                    return;
                }

                if (i == CallsBeforeDispose - 1)
                    warmedUp.Signal();
            }

            errors.Enqueue(new InvalidOperationException($"thread {w}: {MaxCalls} calls and none refused"));
        })).ToList();
        workers.ForEach(t => t.Start());
        Assert.IsTrue(warmedUp.Wait(TimeSpan.FromSeconds(60)), "the threads did not start calling");
        dispose();
        Assert.IsTrue(workers.All(t => t.Join(TimeSpan.FromSeconds(60))), "a thread kept calling after Dispose");
        if (!errors.IsEmpty)
            throw new AggregateException(errors);
        Assert.AreEqual(threads, refused, "every thread ends with ObjectDisposedException");
        return (completed, refused);
    }
}
