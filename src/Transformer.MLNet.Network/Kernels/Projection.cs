using System.Diagnostics;
using System.Runtime.Intrinsics;
using TorchSharp;
using static TorchSharp.torch;

namespace Transformer.MLNet.Network.Kernels;

/// <summary>
/// The linear projection <c>y = x·Wᵀ + b</c> of every encoder layer, computed with <see cref="Gemm"/> (forward and
/// backward) where that is faster than libtorch's matmul on this CPU, and by <c>nn.functional.linear</c> elsewhere.
/// </summary>
/// <remarks>
/// The choice is made once per process by timing both on a projection of encoder size (256 × 384 by 384 × 384, on the
/// intra-op threads of the moment, best of seven after a warm-up): the vectorised product is used only where it took
/// at most 0.87 of libtorch's time, so that machines where libtorch's BLAS already uses the full vector width (Intel
/// AVX-512), or that have no 512-bit vectors, keep libtorch.
/// Only float32 CPU tensors with a contiguous 2-D weight qualify; anything else goes to libtorch unchanged.
/// </remarks>
internal static unsafe class Projection
{
    private static readonly Lazy<bool> Measured = new(MeasureFaster);

    /// <summary>Forces the choice (tests): true uses <see cref="Gemm"/>, false libtorch; null measures.</summary>
    internal static bool? Override { get; set; }

    /// <summary>Whether eligible projections use <see cref="Gemm"/> in this process.</summary>
    internal static bool UsesGemm => Override ?? Measured.Value;

    /// <summary><c>x·Wᵀ + b</c> for x of shape (…, in), W (out, in), b (out) or null; differentiable.</summary>
    public static Tensor Linear(Tensor x, Tensor weight, Tensor? bias)
    {
        // A copy packed for this pass of inference, where the thread has one (one thread-static read otherwise).
        if (InferenceWeights.Find([weight], [bias]) is { } pack && pack.Accepts(x))
            return pack.Forward(x);
        // A bfloat16 copy reordered for oneDNN's product with its bias, likewise.
        if (InferenceWeights.FindBlocked([weight], [bias]) is var (blockedWeight, blockedBias)
            && FusedLinear.Applies(x, blockedWeight, blockedBias) && FusedLinear.Forward(x, blockedWeight, blockedBias, activation: null) is { } fused)
            return fused;
        // The cached choice first: where libtorch was chosen, no per-call checks of the operands.
        if (!UsesGemm || !Eligible(x, weight, bias))
            return nn.functional.linear(x, weight, bias);
        bool differentiable = torch.is_grad_enabled()
            && (x.requires_grad || weight.requires_grad || (bias is not null && bias.requires_grad));
        return differentiable ? LinearFunction.apply(x, weight, bias) : Forward(x, weight, bias);
    }

    /// <summary>Whether the operands are ones <see cref="Gemm"/> handles (dtype, device, layout, size).</summary>
    internal static bool Eligible(Tensor x, Tensor weight, Tensor? bias)
    {
        if (x.dtype != ScalarType.Float32 || weight.dtype != ScalarType.Float32 || x.device_type != DeviceType.CPU
            || weight.device_type != DeviceType.CPU || weight.dim() != 2 || x.dim() < 1 || !weight.is_contiguous()
            || x.shape[^1] != weight.shape[1])
            return false;
        if (bias is not null && (bias.dtype != ScalarType.Float32 || bias.device_type != DeviceType.CPU
            || bias.dim() != 1 || bias.shape[0] != weight.shape[0] || !bias.is_contiguous()))
            return false;
        long rows = x.numel() / Math.Max(1, x.shape[^1]), outputs = weight.shape[0], inputs = weight.shape[1];
        // Int-sized dimensions only; tiny products (a classifier head, one decoding step) are not worth a packing pass.
        return rows <= int.MaxValue && outputs <= int.MaxValue && inputs <= int.MaxValue
            && rows >= 32 && (double)rows * outputs * inputs >= 1 << 16;
    }

    /// <summary>The forward product without autograd: (…, in) → (…, out).</summary>
    internal static Tensor Forward(Tensor x, Tensor weight, Tensor? bias)
    {
        long inputs = weight.shape[1], outputs = weight.shape[0];
        using var flat = x.reshape(-1, inputs).contiguous();
        int rows = (int)flat.shape[0];
        // Allocated in its final shape (not a view of a 2-D result): autograd forbids in-place changes of views
        // returned by a custom function, and the layers change their outputs in place (dropout, activation).
        var shape = x.shape.ToArray();
        shape[^1] = outputs;
        var result = empty(shape, ScalarType.Float32);
        Gemm.Multiply(rows, (int)outputs, (int)inputs,
            new Gemm.Operand(TensorMemory.Floats(flat), inputs, transposed: false),
            new Gemm.Operand(TensorMemory.Floats(weight), inputs, transposed: true),
            TensorMemory.Floats(result), outputs, bias is null ? null : TensorMemory.Floats(bias),
            accumulate: false, Threads);
        return result;
    }

    /// <summary>Gradients of <see cref="Forward"/>: dx = dy·W, dW = dyᵀ·x, db = Σ rows of dy (each only if asked).</summary>
    internal static (Tensor? Input, Tensor? Weight, Tensor? Bias) Backward(Tensor gradient, Tensor x, Tensor weight,
        bool input, bool weights, bool bias)
    {
        long inputs = weight.shape[1], outputs = weight.shape[0];
        using var dy = gradient.reshape(-1, outputs).contiguous();
        int rows = (int)dy.shape[0];
        Tensor? dx = null, dw = null, db = null;
        if (input)
        {
            dx = empty(x.shape, ScalarType.Float32);
            Gemm.Multiply(rows, (int)inputs, (int)outputs,
                new Gemm.Operand(TensorMemory.Floats(dy), outputs, transposed: false),
                new Gemm.Operand(TensorMemory.Floats(weight), inputs, transposed: false),
                TensorMemory.Floats(dx), inputs, null, accumulate: false, Threads);
        }
        if (weights)
        {
            using var flat = x.reshape(-1, inputs).contiguous();
            dw = empty(outputs, inputs, ScalarType.Float32);
            Gemm.Multiply((int)outputs, (int)inputs, rows,
                new Gemm.Operand(TensorMemory.Floats(dy), outputs, transposed: true),
                new Gemm.Operand(TensorMemory.Floats(flat), inputs, transposed: false),
                TensorMemory.Floats(dw), inputs, null, accumulate: false, Threads);
        }
        if (bias)
            db = dy.sum(0L);   // (the long overload: a literal 0 would convert to a ScalarType)
        return (dx, dw, db);
    }

    private static int Threads => Math.Max(1, torch.get_num_threads());

    // Times both on the intra-op threads as they are (changing libtorch's process-wide thread count here could race
    // with IntraOpThreads holders on other threads).
    private static bool MeasureFaster()
    {
        if (!Vector512.IsHardwareAccelerated)
            return false;
        using var scope = NewDisposeScope();
        using var noGrad = torch.no_grad();
        var (x, weight, bias) = MeasurementOperands(256, 384, 384);
        return TakesAtMost(() => Forward(x, weight, bias), () => nn.functional.linear(x, weight, bias), rounds: 7, share: 0.87);
    }

    /// <summary>
    /// Random operands for a one-time speed measurement, x (rows × inputs), W (outputs × inputs) and b (outputs), drawn
    /// from a generator of their own: the measurement happens at the first product of the process, often inside a
    /// seeded training run, whose dropout masks would shift if it drew from the global generator.
    /// </summary>
    internal static (Tensor X, Tensor Weight, Tensor Bias) MeasurementOperands(long rows, long inputs, long outputs)
    {
        using var generator = new torch.Generator(20_240_601);
        return (randn([rows, inputs], generator: generator), randn([outputs, inputs], generator: generator),
            randn([outputs], generator: generator));
    }

    /// <summary>
    /// Whether <paramref name="ours"/> takes at most <paramref name="share"/> of <paramref name="theirs"/>'s time: both
    /// warmed first (the first calls compile and allocate), then the best of <paramref name="rounds"/> alternating runs
    /// each. The results are disposed.
    /// </summary>
    internal static bool TakesAtMost(Func<Tensor> ours, Func<Tensor> theirs, int rounds, double share)
    {
        ours().Dispose();
        theirs().Dispose();
        double oursBest = double.MaxValue, theirsBest = double.MaxValue;
        for (int round = 0; round < rounds; round++)
        {
            var clock = Stopwatch.StartNew();
            ours().Dispose();
            oursBest = Math.Min(oursBest, clock.Elapsed.TotalMilliseconds);
            clock.Restart();
            theirs().Dispose();
            theirsBest = Math.Min(theirsBest, clock.Elapsed.TotalMilliseconds);
        }
        return oursBest <= share * theirsBest;
    }

    /// <summary>The autograd node of <see cref="Linear"/> when a gradient is needed.</summary>
    private sealed class LinearFunction : torch.autograd.SingleTensorFunction<LinearFunction>
    {
        public override string Name => "TransformerMLNetLinear";

        public override Tensor forward(torch.autograd.AutogradContext ctx, params object[] vars)
        {
            var x = (Tensor)vars[0];
            var weight = (Tensor)vars[1];
            var bias = vars[2] as Tensor;
            ctx.save_for_backward([x, weight]);
            ctx.save_data("flags", (x.requires_grad, weight.requires_grad, bias is not null && bias.requires_grad));
            return Forward(x, weight, bias);
        }

        public override List<Tensor> backward(torch.autograd.AutogradContext ctx, Tensor grad_output)
        {
            var (input, weights, bias) = ((bool, bool, bool))ctx.get_data("flags")!;
            var saved = ctx.get_saved_variables();
            try
            {
                var (dx, dw, db) = Backward(grad_output, saved[0], saved[1], input, weights, bias);
                return [dx!, dw!, db!];
            }
            finally
            {
                foreach (var tensor in saved)
                    tensor.Dispose();
            }
        }
    }
}

/// <summary>Applies a <see cref="TorchSharp.Modules.Linear"/> through <see cref="Projection.Linear"/>.</summary>
internal static class LinearExtensions
{
    /// <summary><c>linear(x)</c>, with the vectorised product where this CPU gains from it.</summary>
    public static Tensor Project(this TorchSharp.Modules.Linear linear, Tensor x) =>
        Projection.Linear(x, linear.weight!, linear.bias);

    /// <summary>
    /// <c>act(linear(x))</c>: GELU in one fused primitive where the calling thread's <see cref="InferenceWeights"/> hold
    /// a reordered bfloat16 copy of the weight (batched bfloat16 inference), else <see cref="Project"/> and then the
    /// activation.
    /// </summary>
    public static Tensor ProjectActivated(this TorchSharp.Modules.Linear linear, Tensor x, Configuration.Activation activation)
    {
        if (activation is not (Configuration.Activation.Gelu or Configuration.Activation.Relu))
            throw new NotSupportedException($"Activation {activation} is not supported by the feed-forward layers.");
        if (activation == Configuration.Activation.Gelu
            && InferenceWeights.FindBlocked([linear.weight!], [linear.bias]) is var (blockedWeight, blockedBias)
            && FusedLinear.Applies(x, blockedWeight, blockedBias) && FusedLinear.Forward(x, blockedWeight, blockedBias, activation) is { } fused)
            return fused;
        var projected = linear.Project(x);
        if (activation == Configuration.Activation.Relu)
            return projected.relu_();
        using (projected)
            return nn.functional.gelu(projected);
    }
}
