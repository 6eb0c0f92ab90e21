using System.Diagnostics;
using TorchSharp;
using Transformer.MLNet.Network.Configuration;
using Transformer.MLNet.Network.Modules;
using Transformer.MLNet.Network.Training;
using static TorchSharp.torch;

namespace Transformer.MLNet.Benchmarks;

/// <summary>
/// One encoder layer being trained on random input: forward, a mean-square loss, backward and an AdamW step per
/// <see cref="Step"/>. Either our <see cref="EncoderLayer"/> (fp32, or bf16 with fp32 master weights) or TorchSharp's
/// built-in <c>nn.TransformerEncoderLayer</c> (fp32). Shared by every benchmark that measures layer training.
/// </summary>
internal sealed class LayerTrainingRig : IDisposable
{
    public const int ModelDim = 512, Heads = 8, FeedForwardDim = 2048;
    public const double Dropout = 0.1;

    private readonly nn.Module module;
    private readonly ParameterUpdater updater;
    private readonly Tensor input;
    private readonly Func<Tensor, Tensor> forward;
    private SplitMicroBatch? halves;

    private LayerTrainingRig(nn.Module module, ParameterUpdater updater, Tensor input, Func<Tensor, Tensor> forward, int batch, int length)
    {
        this.module = module;
        this.updater = updater;
        this.input = input;
        this.forward = forward;
        Batch = batch;
        Length = length;
    }

    public int Batch { get; }

    public int Length { get; }

    public long Tokens => (long)Batch * Length;

    public long ParameterCount => module.ParameterCount();

    /// <summary>
    /// Model FLOPs per token of one training step (forward + backward) of a layer of these sizes at sequence length
    /// <paramref name="length"/>: 6 · P + 12 · T · d. P = the weights used in matmuls (Q, K, V, output projections
    /// 4·d², feed-forward 2·d·d_ff): a forward pass spends 2 FLOPs per weight per token (multiply + add) and the
    /// backward pass twice that (gradients of input and weight), hence 6·P (Kaplan et al. 2020, "Scaling Laws for
    /// Neural Language Models", section 2.1). Attention's scores Q·Kᵀ and the weighted sum of V each cost 2·T·d per
    /// token forward, tripled for forward + backward: 12·T·d. LayerNorm, softmax, biases and the optimizer step are
    /// not counted (model FLOPs, not hardware FLOPs).
    /// </summary>
    public static double TrainingFlopsPerToken(int length) =>
        6.0 * (4.0 * ModelDim * ModelDim + 2.0 * ModelDim * FeedForwardDim) + 12.0 * length * ModelDim;

    /// <summary>Our layer; <paramref name="precision"/> picks fp32 or bf16 compute with fp32 master weights.</summary>
    public static LayerTrainingRig Ours(TrainingPrecision precision, int batch, int length, Device? device = null)
    {
        device ??= CPU;
        var config = TransformerConfig.Base with { ModelDim = ModelDim, Heads = Heads, FeedForwardDim = FeedForwardDim, Dropout = Dropout };
        var layer = new EncoderLayer(config);
        layer.to(device).train();
        var updater = new ParameterUpdater(layer, Options with { Precision = precision });
        var dtype = precision == TrainingPrecision.Float32 ? ScalarType.Float32 : ScalarType.BFloat16;
        var input = randn([batch, length, ModelDim], device: device).to_type(dtype);          // (B, T, D)
        return new LayerTrainingRig(layer, updater, input, x => layer.forward(x, null).to_type(ScalarType.Float32), batch, length);
    }

    /// <summary>TorchSharp's built-in layer in fp32.</summary>
    public static LayerTrainingRig BuiltIn(int batch, int length, Device? device = null)
    {
        device ??= CPU;
        var layer = nn.TransformerEncoderLayer(ModelDim, Heads, FeedForwardDim, Dropout);
        layer.to(device).train();
        var updater = new ParameterUpdater(layer, Options);
        var input = randn([length, batch, ModelDim], device: device);                          // the built-in layer takes (T, B, D)
        return new LayerTrainingRig(layer, updater, input, x => layer.call(x), batch, length);
    }

    private static TrainingOptions Options => new() { MaxGradientNorm = 0, WarmupSteps = 0, Decay = LearningRateDecay.Constant };

    /// <summary>
    /// Computes each step's batch as two halves on one thread each, as the trainers do on the CPU
    /// (<see cref="SplitMicroBatch"/>), instead of the whole batch on all intra-op threads. False where splitting does
    /// not apply (another device, one intra-op thread). Call before measuring.
    /// </summary>
    public bool SplitIntoHalves()
    {
        halves ??= SplitMicroBatch.For(module, updater);
        return halves is not null;
    }

    /// <summary>One training step; returns when its work is done (CUDA is synchronised).</summary>
    public void Step()
    {
        if (halves is not null)
        {
            // Each half's loss is its own mean; the halves are weighted by their examples, which have equal elements, so
            // the two add up to the whole batch's mean.
            var batch = new MicroBatch(Batch, () => forward(input).pow(2).mean(),
                (start, end) => new PartLoss(forward(input[start..end]).pow(2).mean(), end - start));
            using (var scope = NewDisposeScope())
                halves.Step(batch, out _);
            return;
        }

        using (var scope = NewDisposeScope())
            updater.Backward(forward(input).pow(2).mean());
        if (input.device.type == DeviceType.CUDA)
            cuda.synchronize();
    }

    /// <summary>One timed step: tokens per wall-clock second and per CPU-second of this process.</summary>
    public (double Wall, double Cpu) TimedStep()
    {
        using var process = Process.GetCurrentProcess();
        var cpuBefore = process.TotalProcessorTime;
        var clock = Stopwatch.StartNew();
        Step();
        double wall = clock.Elapsed.TotalSeconds;
        process.Refresh();
        return (Tokens / wall, Tokens / Math.Max((process.TotalProcessorTime - cpuBefore).TotalSeconds, 1e-9));
    }

    /// <summary>A warm-up step, then <paramref name="steps"/> timed steps; wall-clock tokens/s of each.</summary>
    public List<double> Measure(int steps)
    {
        Step();
        return Enumerable.Range(0, steps).Select(_ => TimedStep().Wall).ToList();
    }

    public void Dispose()
    {
        halves?.Dispose();
        updater.Dispose();
        input.Dispose();
        module.Dispose();
    }
}

internal static class Statistics
{
    public static double Median(IReadOnlyCollection<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[sorted.Count / 2 - 1] + sorted[sorted.Count / 2]) / 2;
    }
}
