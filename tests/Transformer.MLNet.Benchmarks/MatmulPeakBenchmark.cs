using System.Diagnostics;
using System.Globalization;
using System.Runtime.Intrinsics;
using Transformer.MLNet.Network.Kernels;
using Transformer.MLNet.Network.Training;
using static TorchSharp.torch;

namespace Transformer.MLNet.Benchmarks;

/// <summary>
/// Model FLOP utilisation: the best training rate of our encoder layer (seq 128, batch 16, fp32), in model FLOP/s
/// (<see cref="LayerTrainingRig.TrainingFlopsPerToken"/>), against the best fp32 square matmul (n = 1024, 1536,
/// 2048; libtorch's or our own, whichever is faster; the better of a measurement before and one after the layer) measured in
/// the same run, the practical hardware limit. The same in bf16 is printed for information. The layer is trained as the
/// trainers train on the CPU, each batch as two halves on one thread each (<see cref="SplitMicroBatch"/>); the rate of
/// whole batches on all intra-op threads is printed beside it.
/// </summary>
internal sealed class MatmulPeakBenchmark : IBenchmark
{
    private const int Batch = 16, Length = 128;

    public string Name => "matmul-peak";

    public string Description => "model FLOP/s of our encoder layer training (fp32, best step) vs fp32 square matmul FLOP/s (best of n=1024..2048); ratio = utilisation";

    public BenchmarkResult Run(BenchmarkOptions options)
    {
        int steps = options.Quick ? 3 : 8;
        int matmulRepeats = options.Quick ? 3 : 6;
        double flopsPerToken = LayerTrainingRig.TrainingFlopsPerToken(Length);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"   model FLOPs per token (6·P + 12·T·d, T={Length}): {flopsPerToken / 1e6:F2} M"));

        var results = new Dictionary<ScalarType, (double Model, double Matmul)>();
        foreach (var (precision, dtype) in new[] { (TrainingPrecision.Float32, ScalarType.Float32), (TrainingPrecision.BFloat16, ScalarType.BFloat16) })
        {
            if (dtype == ScalarType.BFloat16 && !options.MeasuresBFloat16)
            {
                Console.WriteLine($"   BFloat16: {BenchmarkOptions.BFloat16NotMeasured}");
                continue;
            }

            Network.Training.Seeding.Apply(1);
            // The peak is measured before and after the layer and the better count kept (as finetune-classifier does):
            // on a virtual machine whose second core is sometimes shared with a neighbour, one window can catch a bad
            // moment (a 2-core AVX2 EPYC measured 42.7 and 67.5 GFLOP/s in two runs a few minutes apart).
            double matmul = MatmulFlops(dtype, matmulRepeats, options.Device);
            double model, whole;
            using (var rig = LayerTrainingRig.Ours(precision, Batch, Length, options.Device))
                whole = rig.Measure(steps).Max() * flopsPerToken;
            using (var rig = LayerTrainingRig.Ours(precision, Batch, Length, options.Device))
                model = rig.SplitIntoHalves() ? rig.Measure(steps).Max() * flopsPerToken : whole;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"   {dtype}: whole batches on all threads {whole / 1e9:F1} GFLOP/s, two halves {model / 1e9:F1}"));
            matmul = Math.Max(matmul, MatmulFlops(dtype, matmulRepeats, options.Device));
            results[dtype] = (model, matmul);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"   {dtype}: layer training {model / 1e9:F1} GFLOP/s, matmul {matmul / 1e9:F1} GFLOP/s, utilisation {model / matmul:P1}"));
        }

        var (ours, peer) = results[ScalarType.Float32];
        return new BenchmarkResult(Name, ours / 1e9, peer / 1e9, ours / peer, "GFLOP/s",
            Limit: "limit 1.0 = fp32 matmul peak of this run");
    }

    /// <summary>
    /// Best FLOP/s of n×n by n×n matmuls (2·n³ FLOPs each) over a few sizes, warm: libtorch's matmul and, in float32 on
    /// a CPU with 512-bit vectors, also our own product (<see cref="Gemm"/>, which the layers use where it is faster),
    /// so that the peak is the best this machine reached with either.
    /// </summary>
    internal static double MatmulFlops(ScalarType dtype, int repeats, Device device)
    {
        double libtorch = LibtorchMatmulFlops(dtype, repeats, device);
        if (dtype != ScalarType.Float32 || device.type != TorchSharp.DeviceType.CPU || !Vector512.IsHardwareAccelerated)
            return libtorch;
        double ours = GemmFlops(repeats);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"   fp32 square matmul: libtorch {libtorch / 1e9:F1} GFLOP/s, ours (512-bit vectors) {ours / 1e9:F1} GFLOP/s; the peak is the better"));
        return Math.Max(libtorch, ours);
    }

    private static unsafe double GemmFlops(int repeats)
    {
        double best = 0;
        int threads = Math.Max(1, get_num_threads());
        foreach (int n in new[] { 1024, 1536, 2048 })
        {
            using var scope = NewDisposeScope();
            var a = randn(n, n);
            var b = randn(n, n);
            var c = empty(n, n);
            float* pa = TensorMemory.Floats(a), pb = TensorMemory.Floats(b), pc = TensorMemory.Floats(c);
            for (int r = 0; r <= repeats; r++)
            {
                var clock = Stopwatch.StartNew();
                Gemm.Multiply(n, n, n, new Gemm.Operand(pa, n, false), new Gemm.Operand(pb, n, false), pc, n, null, false, threads);
                if (r > 0)                                              // the first is the warm-up
                    best = Math.Max(best, 2.0 * n * n * n / clock.Elapsed.TotalSeconds);
            }
        }

        return best;
    }

    private static double LibtorchMatmulFlops(ScalarType dtype, int repeats, Device device)
    {
        double best = 0;
        foreach (int n in new[] { 1024, 1536, 2048 })
        {
            using var scope = NewDisposeScope();
            var a = randn([n, n], device: device).to_type(dtype);
            var b = randn([n, n], device: device).to_type(dtype);
            a.matmul(b).Dispose();                                      // warm-up
            for (int r = 0; r < repeats; r++)
            {
                var clock = Stopwatch.StartNew();
                a.matmul(b).Dispose();
                if (device.type == TorchSharp.DeviceType.CUDA)
                    cuda.synchronize();
                best = Math.Max(best, 2.0 * n * n * n / clock.Elapsed.TotalSeconds);
            }
        }

        return best;
    }
}
