using System.Collections.Concurrent;
using System.Diagnostics;
using Microsoft.ML;
using Microsoft.ML.Data;
using TorchSharp;
using Transformer.MLNet.Classification;
using Transformer.MLNet.Network.Embeddings;
using Transformer.MLNet.Tests.Classification;

namespace Transformer.MLNet.Tests.Reliability;

/// <summary>One fitted transformer shared by many threads; many predictions; no leaks; Dispose while others score.</summary>
[TestClass]
public sealed class ConcurrencyAndMemoryTests
{
    [TestMethod]
    [TestCategory("Reliability")]
    public void Eight_threads_with_their_own_PredictionEngine_get_the_sequential_scores()
    {
        const int Threads = 8, CallsPerThread = 40;
        using var oneThread = IntraOpThreads.UseOne();
        var mlContext = TinyPipelines.Context;
        var model = TinyPipelines.BinaryModel;
        var rows = UciSentences.Read("imdb").Take(Threads * CallsPerThread).ToList();
        var sequentialEngine = mlContext.Model.CreatePredictionEngine<SentenceRow, BinaryPrediction>(model);
        var sequential = rows.Select(r => sequentialEngine.Predict(r).Score).ToArray();

        var parallel = new float[rows.Count];
        RunTogether(Threads, w =>
        {
            var engine = mlContext.Model.CreatePredictionEngine<SentenceRow, BinaryPrediction>(model);
            return () =>
            {
                for (int i = w; i < rows.Count; i += Threads)
                    parallel[i] = engine.Predict(rows[i]).Score;
            };
        });
        CollectionAssert.AreEqual(sequential, parallel);
        Console.WriteLine($"concurrency: {Threads} threads x {CallsPerThread} PredictionEngine calls = sequential scores");
    }

    [TestMethod]
    [TestCategory("Reliability")]
    public void Parallel_Transform_cursors_over_one_transformed_view_get_the_sequential_columns()
    {
        const int Threads = 6;
        var mlContext = TinyPipelines.Context;
        var data = mlContext.Data.LoadFromEnumerable(UciSentences.Read("imdb").Take(300).ToList());
        var scored = TinyPipelines.BinaryModel.Transform(data);
        var sequential = scored.GetColumn<float>("Score").ToArray();
        var results = new float[Threads][];
        RunTogether(Threads, w => () => results[w] = scored.GetColumn<float>("Score").ToArray());
        foreach (var result in results)
            CollectionAssert.AreEqual(sequential, result);
        Console.WriteLine($"concurrency: {Threads} parallel cursors x {sequential.Length} rows = sequential scores");
    }

    [TestMethod]
    [TestCategory("Reliability")]
    public void Ten_thousand_predictions_leave_live_tensors_at_baseline_and_RSS_flat()
    {
        const int Predictions = 10_000;
        using var oneThread = IntraOpThreads.UseOne();
        var engine = TinyPipelines.Context.Model.CreatePredictionEngine<SentenceRow, BinaryPrediction>(TinyPipelines.BinaryModel);
        var rows = UciSentences.Read("imdb");
        for (int i = 0; i < 500; i++)
            engine.Predict(rows[i % rows.Count]);
        GC.Collect();
        GC.WaitForPendingFinalizers();
        long tensorsBefore = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        using var process = Process.GetCurrentProcess();
        process.Refresh();
        long rssBefore = process.WorkingSet64;
        var clock = Stopwatch.StartNew();
        for (int i = 0; i < Predictions; i++)
            Assert.IsTrue(float.IsFinite(engine.Predict(rows[i % rows.Count]).Score));
        clock.Stop();
        GC.Collect();
        GC.WaitForPendingFinalizers();
        long tensorsAfter = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        process.Refresh();
        long rssAfter = process.WorkingSet64;
        Console.WriteLine(
            $"memory: {Predictions} PredictionEngine predictions in {clock.Elapsed.TotalSeconds:F1} s; live tensors {tensorsBefore} -> {tensorsAfter} " +
            $"(leaked {tensorsAfter - tensorsBefore}); RSS {rssBefore / 1048576.0:F1} MiB -> {rssAfter / 1048576.0:F1} MiB");
        Assert.AreEqual(tensorsBefore, tensorsAfter, "leaked tensors");
        Assert.IsLessThan(64L * 1024 * 1024, rssAfter - rssBefore, "RSS grew by more than 64 MiB");
    }

    [TestMethod]
    [TestCategory("Reliability")]
    public void Disposing_while_PredictionEngines_and_cursors_score_lets_each_call_finish_or_throw_ObjectDisposedException()
    {
        const int Engines = 4, Cursors = 2;
        using var oneThread = IntraOpThreads.UseOne();
        var mlContext = new MLContext(seed: 1);
        var rows = UciSentences.Read("imdb").Take(60).ToList();
        var data = mlContext.Data.LoadFromEnumerable(rows);
        var model = mlContext.BinaryClassification.Trainers.TextClassifier(TinyScratch.Options(seed: 1))
            .Fit(mlContext.Data.LoadFromEnumerable(UciSentences.Read("yelp").Take(48).ToList()));
        var engines = Enumerable.Range(0, Engines).Select(_ => mlContext.Model.CreatePredictionEngine<SentenceRow, BinaryPrediction>(model)).ToArray();
        var engineScores = rows.Select(r => engines[0].Predict(r).Score).ToArray();
        var scored = model.Transform(data);
        var cursorScores = scored.GetColumn<float>("Score").ToArray();

        var outcome = DisposeWhileCalling(Engines + Cursors, (w, i) =>
        {
            if (w < Engines)
            {
                int row = (w * 11 + i) % rows.Count;   // a new row each call: a PredictionEngine row reuses the output of an unchanged input
                float score = engines[w].Predict(rows[row]).Score;
                Assert.IsTrue(float.IsFinite(score), $"engine {w} call {i}: {score}");
                Assert.AreEqual(engineScores[row], score, $"engine {w} call {i} row {row}");
            }
            else
            {
                CollectionAssert.AreEqual(cursorScores, scored.GetColumn<float>("Score").ToArray(), $"cursor thread {w} call {i}");
            }
        }, model.Dispose);

        var predict = Assert.ThrowsExactly<ObjectDisposedException>(() => engines[0].Predict(rows[1]));
        StringAssert.Contains(predict.ObjectName, nameof(BinaryTextClassificationTransformer));
        var transform = Assert.ThrowsExactly<ObjectDisposedException>(() => model.Transform(data));
        StringAssert.Contains(transform.ObjectName, nameof(BinaryTextClassificationTransformer));
        Assert.ThrowsExactly<ObjectDisposedException>(() => scored.GetColumn<float>("Score").ToArray());
        model.Dispose();   // again: nothing happens
        Console.WriteLine($"dispose during scoring: {outcome.Completed} calls completed, {outcome.Refused} refused with ObjectDisposedException");
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
                catch (Exception e)
                {
                    if (e is ObjectDisposedException)
                        Interlocked.Increment(ref refused);
                    else
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

    // Each worker prepares (e.g. creates its engine), then all start the work at once; failures surface in the test.
    private static void RunTogether(int threads, Func<int, Action> prepare)
    {
        using var start = new Barrier(threads);
        var errors = new System.Collections.Concurrent.ConcurrentQueue<Exception>();
        var workers = Enumerable.Range(0, threads).Select(w => new Thread(() =>
        {
            Action work;
            try
            {
                work = prepare(w);
            }
            catch (Exception e)
            {
                errors.Enqueue(e);
                start.RemoveParticipant();
                return;
            }

            start.SignalAndWait();
            try
            {
                work();
            }
            catch (Exception e)
            {
                errors.Enqueue(e);
            }
        })).ToList();
        workers.ForEach(t => t.Start());
        workers.ForEach(t => t.Join());
        if (!errors.IsEmpty)
            throw new AggregateException(errors);
    }
}
