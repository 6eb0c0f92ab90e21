using System.Diagnostics;
using System.Globalization;
using Transformer.MLNet.Network.Kernels;
using static TorchSharp.torch;

namespace Transformer.MLNet.Benchmarks;

/// <summary>
/// Our float32 product (<see cref="Gemm"/>) against libtorch's matmul on the products of an encoder's projections:
/// forward x·Wᵀ, input gradient dy·W and weight gradient dyᵀ·x, at fine-tuning size (288 rows, a batch of 16 short
/// sentences, MiniLM widths) and at 2048 rows, on one thread and on all intra-op threads. ours / peer = total FLOPs over
/// total time of each side on the same products, measured alternately in one run.
/// </summary>
internal sealed class GemmBenchmark : IBenchmark
{
    public string Name => "gemm";

    public string Description => "float32 products of encoder projections (forward, input and weight gradients): our 512-bit-vector product vs libtorch's matmul, GFLOP/s";

    private static readonly (int Rows, int In, int Out, string What)[] Shapes =
    [
        (288, 384, 1152, "packed Q, K, V"), (288, 384, 1536, "feed-forward in"), (288, 1536, 384, "feed-forward out"),
        (288, 384, 384, "attention output"), (2048, 384, 1536, "feed-forward in, long batch"),
    ];

    public unsafe BenchmarkResult Run(BenchmarkOptions options)
    {
        int repeats = options.Quick ? 3 : 15;
        int allThreads = Math.Max(1, get_num_threads());
        double oursSeconds = 0, peerSeconds = 0, flops = 0;
        Console.WriteLine("   rows × in × out (what)                         threads   forward ours/libtorch   dx ours/libtorch   dW ours/libtorch  (GFLOP/s)");
        foreach (int threads in allThreads > 1 ? new[] { 1, allThreads } : new[] { 1 })
        {
            set_num_threads(threads);
            try
            {
                foreach (var (m, k, n, what) in Shapes)
                {
                    using var scope = NewDisposeScope();
                    var x = randn(m, k);
                    var w = randn(n, k);
                    var bias = randn(n);
                    var dy = randn(m, n);
                    var y = empty(m, n);
                    var dx = empty(m, k);
                    var dw = empty(n, k);
                    float* px = TensorMemory.Floats(x), pw = TensorMemory.Floats(w), pb = TensorMemory.Floats(bias),
                        pdy = TensorMemory.Floats(dy), py = TensorMemory.Floats(y), pdx = TensorMemory.Floats(dx), pdw = TensorMemory.Floats(dw);
                    var products = new (Action Ours, Action Peer)[]
                    {
                        (() => Gemm.Multiply(m, n, k, new Gemm.Operand(px, k, false), new Gemm.Operand(pw, k, true), py, n, pb, false, threads),
                         () => nn.functional.linear(x, w, bias).Dispose()),
                        (() => Gemm.Multiply(m, k, n, new Gemm.Operand(pdy, n, false), new Gemm.Operand(pw, k, false), pdx, k, null, false, threads),
                         () => dy.matmul(w).Dispose()),
                        (() => Gemm.Multiply(n, k, m, new Gemm.Operand(pdy, n, true), new Gemm.Operand(px, k, false), pdw, k, null, false, threads),
                         () => { using var t = dy.t(); t.matmul(x).Dispose(); }),
                    };
                    double product = 2.0 * m * n * k;
                    var line = new List<string>();
                    foreach (var (ours, peer) in products)
                    {
                        double o = Best(ours, repeats), p = Best(peer, repeats);
                        oursSeconds += o;
                        peerSeconds += p;
                        flops += product;
                        line.Add(string.Create(CultureInfo.InvariantCulture, $"{product / o / 1e9,6:F0} / {product / p / 1e9,-6:F0}"));
                    }
                    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"   {$"{m} × {k} × {n} ({what})",-48} {threads,7}   {line[0],21}   {line[1],16}   {line[2],16}"));
                }
            }
            finally
            {
                set_num_threads(allThreads);
            }
        }

        Console.WriteLine("   float32 projections of the layers use " + (Projection.UsesGemm ? "our product on this CPU" : "libtorch's matmul on this CPU (ours measured slower at first use)"));
        double oursRate = flops / oursSeconds, peerRate = flops / peerSeconds;
        return new BenchmarkResult(Name, oursRate / 1e9, peerRate / 1e9, oursRate / peerRate, "GFLOP/s",
            Limit: "above 1.0 where libtorch's BLAS leaves vector width unused (MKL on AMD AVX-512)");
    }

    // Best of `repeats` timed calls after a warm-up, in seconds.
    private static double Best(Action action, int repeats)
    {
        action();
        double best = double.MaxValue;
        for (int r = 0; r < repeats; r++)
        {
            var clock = Stopwatch.StartNew();
            action();
            best = Math.Min(best, clock.Elapsed.TotalSeconds);
        }

        return best;
    }
}
