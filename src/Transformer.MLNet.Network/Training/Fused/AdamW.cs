using System.Numerics;
using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;
using Parameter = TorchSharp.Modules.Parameter;

namespace Transformer.MLNet.Network.Training.Fused;

/// <summary>
/// TorchSharp's AdamW with a fused step on the CPU: one pass over each float32 parameter that reads the parameter, its
/// gradient and both moments once and writes the parameter and the moments once, spread over the intra-op threads.
/// </summary>
/// <remarks>
/// The base class updates each parameter with about ten tensor operations (decay, two moment updates, square root,
/// division, ε, the step) and allocates two temporaries each time: some twenty passes over memory per parameter, which
/// made the update a sixth of a MiniLM fine-tuning step (its 11 M trainable parameters) and a tenth of an encoder
/// layer's. The arithmetic per element is the same as the base class's (Loshchilov and Hutter, "Decoupled Weight Decay
/// Regularization", Algorithm 2, with PyTorch's bias corrections):
/// <c>θ ← θ·(1 − η·λ)</c>, <c>m ← β₁·m + (1 − β₁)·g</c>, <c>v ← β₂·v + (1 − β₂)·g²</c>,
/// <c>θ ← θ − (η / (1 − β₁ᵗ))·m / (√v / √(1 − β₂ᵗ) + ε)</c>; results agree with the base class to float32 rounding.
/// The state (step counts and moments) is the base class's own, and the class keeps the base class's name because
/// TorchSharp's optimizer files record it: states saved by either load into the other. Parameters on
/// another device, not float32, not contiguous or over 2 GB, and the AMSGrad and maximize variants use the base step.
/// </remarks>
internal sealed class AdamW : TorchSharp.Modules.AdamW
{
    // Elements per unit of parallel work: large enough that scheduling costs nothing, small enough to balance threads.
    private const int ChunkElements = 1 << 16;

    public AdamW(IEnumerable<ParamGroup> groups, double lr, double beta1, double beta2, double eps, double weightDecay)
        : base(groups, lr, beta1, beta2, eps, weightDecay)
    {
    }

    /// <summary>Updates for the most recent <see cref="step"/> ran fused (false: the base class's step ran).</summary>
    public bool LastStepFused { get; private set; }

    /// <summary>
    /// A factor for every gradient of the next <see cref="step"/> (global-norm clipping's coefficient), applied as the
    /// fused step reads each gradient instead of in a pass of its own over all of them; the base step gets gradients
    /// scaled in place first. Each step resets it to 1.
    /// </summary>
    public float GradientScale { get; set; } = 1;

    public override Tensor step(Func<Tensor>? closure = null)
    {
        float scale = GradientScale;
        GradientScale = 1;

        // A closure recomputes the gradients inside the step; the base class handles that rare form.
        if (closure is not null || !CanFuse())
        {
            LastStepFused = false;
            if (scale != 1)
                ScaleGradients(scale);
            return base.step(closure);
        }

        LastStepFused = true;
        var parallel = new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, get_num_threads()) };
        return _step<ParamGroup>(group =>
        {
            var options = (Options)group.Options;
            var work = new List<Chunk>();
            foreach (var parameter in group.Parameters)
            {
                var gradient = parameter.grad;                   // in the step's dispose scope
                if (gradient is null)
                    continue;
                var state = (State)_state[parameter.Handle];
                state.step += 1;
                var coefficients = new Coefficients(options, state.step, scale);
                int count = (int)parameter.numel();
                for (int offset = 0; offset < count; offset += ChunkElements)
                    work.Add(new Chunk(parameter, gradient, state, coefficients, offset, Math.Min(ChunkElements, count - offset)));
            }

            Parallel.ForEach(work, parallel, Update);
        });
    }

    /// <summary>Whether every parameter with a gradient, the gradient and the moments suit the fused step.</summary>
    private bool CanFuse()
    {
        foreach (var group in _parameter_groups)
        {
            var options = (Options)group.Options;
            if (options.amsgrad == true || options.maximize == true)
                return false;
            foreach (var parameter in group.Parameters)
            {
                using var gradient = parameter.grad;
                if (gradient is null)
                    continue;
                var state = (State)_state[parameter.Handle];
                if (!Fusable(parameter) || !Fusable(gradient) || !Fusable(state.exp_avg) || !Fusable(state.exp_avg_sq))
                    return false;
            }
        }

        return true;
    }

    private void ScaleGradients(float scale)
    {
        using var scope = NewDisposeScope();
        foreach (var group in _parameter_groups)
        {
            foreach (var parameter in group.Parameters)
                parameter.grad?.mul_(scale);
        }
    }

    internal static bool Fusable(Tensor tensor) =>
        tensor.device_type == DeviceType.CPU && tensor.dtype == ScalarType.Float32 && tensor.is_contiguous()
        && tensor.numel() <= int.MaxValue / sizeof(float);

    private static void Update(Chunk chunk)
    {
        var p = MemoryMarshal.Cast<byte, float>(chunk.Parameter.bytes).Slice(chunk.Offset, chunk.Length);
        var g = MemoryMarshal.Cast<byte, float>(chunk.Gradient.bytes).Slice(chunk.Offset, chunk.Length);
        var m = MemoryMarshal.Cast<byte, float>(chunk.State.exp_avg.bytes).Slice(chunk.Offset, chunk.Length);
        var v = MemoryMarshal.Cast<byte, float>(chunk.State.exp_avg_sq.bytes).Slice(chunk.Offset, chunk.Length);
        Update(p, g, m, v, chunk.Coefficients);
    }

    /// <summary>One AdamW update of <paramref name="p"/> in place, moments <paramref name="m"/> and <paramref name="v"/> with it.</summary>
    internal static void Update(Span<float> p, ReadOnlySpan<float> g, Span<float> m, Span<float> v, in Coefficients c)
    {
        int done = 0;
        if (Vector.IsHardwareAccelerated)
        {
            var pv = MemoryMarshal.Cast<float, Vector<float>>(p);
            var gv = MemoryMarshal.Cast<float, Vector<float>>(g);
            var mv = MemoryMarshal.Cast<float, Vector<float>>(m);
            var vv = MemoryMarshal.Cast<float, Vector<float>>(v);
            var decay = new Vector<float>(c.Decay);
            var beta1 = new Vector<float>(c.Beta1);
            var oneMinusBeta1 = new Vector<float>(c.OneMinusBeta1);
            var beta2 = new Vector<float>(c.Beta2);
            var oneMinusBeta2 = new Vector<float>(c.OneMinusBeta2);
            var sqrtCorrection2 = new Vector<float>(c.SqrtCorrection2);
            var epsilon = new Vector<float>(c.Epsilon);
            var negativeStep = new Vector<float>(-c.StepSize);
            var gradientScale = new Vector<float>(c.GradientScale);
            for (int i = 0; i < pv.Length; i++)
            {
                var grad = gv[i] * gradientScale;
                var first = mv[i] * beta1 + oneMinusBeta1 * grad;
                var second = vv[i] * beta2 + oneMinusBeta2 * grad * grad;
                mv[i] = first;
                vv[i] = second;
                pv[i] = pv[i] * decay + negativeStep * first / (Vector.SquareRoot(second) / sqrtCorrection2 + epsilon);
            }

            done = pv.Length * Vector<float>.Count;
        }

        for (int i = done; i < p.Length; i++)
        {
            float grad = g[i] * c.GradientScale;
            float first = m[i] * c.Beta1 + c.OneMinusBeta1 * grad;
            float second = v[i] * c.Beta2 + c.OneMinusBeta2 * grad * grad;
            m[i] = first;
            v[i] = second;
            p[i] = p[i] * c.Decay + -c.StepSize * first / (MathF.Sqrt(second) / c.SqrtCorrection2 + c.Epsilon);
        }
    }

    /// <summary>The per-step scalars of one parameter group, in float32 as the base class's kernels use them.</summary>
    internal readonly struct Coefficients
    {
        public Coefficients(Options options, long step, float gradientScale = 1)
        {
            GradientScale = gradientScale;
            double lr = options.LearningRate!.Value, beta1 = options.beta1!.Value, beta2 = options.beta2!.Value;
            Decay = (float)(1 - lr * options.weight_decay!.Value);
            Beta1 = (float)beta1;
            OneMinusBeta1 = (float)(1 - beta1);
            Beta2 = (float)beta2;
            OneMinusBeta2 = (float)(1 - beta2);
            SqrtCorrection2 = (float)Math.Sqrt(1 - Math.Pow(beta2, step));
            Epsilon = (float)options.eps!.Value;
            StepSize = (float)(lr / (1 - Math.Pow(beta1, step)));
        }

        /// <summary>The factor each gradient is multiplied by as it is read (1: none).</summary>
        public float GradientScale { get; }

        public float Decay { get; }

        public float Beta1 { get; }

        public float OneMinusBeta1 { get; }

        public float Beta2 { get; }

        public float OneMinusBeta2 { get; }

        public float SqrtCorrection2 { get; }

        public float Epsilon { get; }

        public float StepSize { get; }
    }

    private sealed record Chunk(Parameter Parameter, Tensor Gradient, State State, Coefficients Coefficients, int Offset, int Length);
}
