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

    /// <summary>
    /// bfloat16 working copies of float32 parameters (mixed-precision training), keyed by the float32 parameter's
    /// handle. For such a parameter the next <see cref="step"/> reads the gradient from the copy's bfloat16 gradient
    /// instead of its own, and writes the updated value back into the copy, rounded to bfloat16 as <c>copy_</c> rounds
    /// (to nearest, ties to even): one pass instead of a conversion of the gradients, the step and a conversion back.
    /// Each step resets it to null.
    /// </summary>
    public IReadOnlyDictionary<IntPtr, Parameter>? BFloat16Copies { get; set; }

    public override Tensor step(Func<Tensor>? closure = null)
    {
        float scale = GradientScale;
        GradientScale = 1;
        var copies = BFloat16Copies;
        BFloat16Copies = null;

        // A closure recomputes the gradients inside the step; the base class handles that rare form.
        if (closure is not null || !CanFuse(copies))
        {
            LastStepFused = false;
            if (copies is not null)
                GradientsFromCopies(copies);
            if (scale != 1)
                ScaleGradients(scale);
            var result = base.step(closure);
            if (copies is not null)
                CopiesFromParameters(copies);
            return result;
        }

        LastStepFused = true;
        var parallel = new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, get_num_threads()) };
        return _step<ParamGroup>(group =>
        {
            var options = (Options)group.Options;
            var work = new List<Chunk>();
            foreach (var parameter in group.Parameters)
            {
                var copy = copies?.GetValueOrDefault(parameter.Handle);
                var gradient = copy is null ? parameter.grad : copy.grad;    // in the step's dispose scope
                if (gradient is null)
                    continue;
                var state = (State)_state[parameter.Handle];
                state.step += 1;
                var coefficients = new Coefficients(options, state.step, scale);
                int count = (int)parameter.numel();
                for (int offset = 0; offset < count; offset += ChunkElements)
                    work.Add(new Chunk(parameter, gradient, copy, state, coefficients, offset, Math.Min(ChunkElements, count - offset)));
            }

            Parallel.ForEach(work, parallel, Update);
        });
    }

    /// <summary>Whether every parameter with a gradient, the gradient, the moments and any bfloat16 copy suit the fused step.</summary>
    private bool CanFuse(IReadOnlyDictionary<IntPtr, Parameter>? copies)
    {
        foreach (var group in _parameter_groups)
        {
            var options = (Options)group.Options;
            if (options.amsgrad == true || options.maximize == true)
                return false;
            foreach (var parameter in group.Parameters)
            {
                var copy = copies?.GetValueOrDefault(parameter.Handle);
                using var gradient = copy is null ? parameter.grad : copy.grad;
                if (gradient is null)
                    continue;
                var state = (State)_state[parameter.Handle];
                if (!Fusable(parameter) || !Fusable(state.exp_avg) || !Fusable(state.exp_avg_sq))
                    return false;
                if (copy is null ? !Fusable(gradient) : !FusableBFloat16(copy) || !FusableBFloat16(gradient) || copy.numel() != parameter.numel())
                    return false;
            }
        }

        return true;
    }

    /// <summary>The base step's way: float32 gradients converted from the copies' bfloat16 ones.</summary>
    private void GradientsFromCopies(IReadOnlyDictionary<IntPtr, Parameter> copies)
    {
        using var scope = NewDisposeScope();
        foreach (var parameter in AllParameters)
        {
            if (copies.GetValueOrDefault(parameter.Handle)?.grad is { } gradient)
                parameter.grad = gradient.to_type(parameter.dtype);
        }
    }

    private void CopiesFromParameters(IReadOnlyDictionary<IntPtr, Parameter> copies)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        foreach (var parameter in AllParameters)
            copies.GetValueOrDefault(parameter.Handle)?.copy_(parameter);
    }

    private void ScaleGradients(float scale)
    {
        using var scope = NewDisposeScope();
        foreach (var parameter in AllParameters)
            parameter.grad?.mul_(scale);
    }

    private IEnumerable<Parameter> AllParameters => _parameter_groups.SelectMany(group => group.Parameters);

    internal static bool Fusable(Tensor tensor) =>
        tensor.device_type == DeviceType.CPU && tensor.dtype == ScalarType.Float32 && tensor.is_contiguous()
        && tensor.numel() <= int.MaxValue / sizeof(float);

    internal static bool FusableBFloat16(Tensor tensor) =>
        tensor.device_type == DeviceType.CPU && tensor.dtype == ScalarType.BFloat16 && tensor.is_contiguous()
        && tensor.numel() <= int.MaxValue / sizeof(ushort);

    private static void Update(Chunk chunk)
    {
        var p = MemoryMarshal.Cast<byte, float>(chunk.Parameter.bytes).Slice(chunk.Offset, chunk.Length);
        var m = MemoryMarshal.Cast<byte, float>(chunk.State.exp_avg.bytes).Slice(chunk.Offset, chunk.Length);
        var v = MemoryMarshal.Cast<byte, float>(chunk.State.exp_avg_sq.bytes).Slice(chunk.Offset, chunk.Length);
        if (chunk.Copy is null)
        {
            var g = MemoryMarshal.Cast<byte, float>(chunk.Gradient.bytes).Slice(chunk.Offset, chunk.Length);
            Update(p, g, m, v, chunk.Coefficients);
        }
        else
        {
            var g = MemoryMarshal.Cast<byte, ushort>(chunk.Gradient.bytes).Slice(chunk.Offset, chunk.Length);
            var copy = MemoryMarshal.Cast<byte, ushort>(chunk.Copy.bytes).Slice(chunk.Offset, chunk.Length);
            UpdateBFloat16(p, g, m, v, copy, chunk.Coefficients);
        }
    }

    /// <summary>
    /// <see cref="Update(Span{float}, ReadOnlySpan{float}, Span{float}, Span{float}, in Coefficients)"/> with a bfloat16
    /// gradient <paramref name="g"/>, writing the updated <paramref name="p"/> rounded to bfloat16 into <paramref name="copy"/>.
    /// </summary>
    internal static void UpdateBFloat16(Span<float> p, ReadOnlySpan<ushort> g, Span<float> m, Span<float> v, Span<ushort> copy, in Coefficients c)
    {
        // In blocks of 1024: widen the bfloat16 gradients into a float32 stack buffer, update, then round the block.
        const int Block = 1024;
        Span<float> gradient = stackalloc float[Block];
        for (int start = 0; start < p.Length; start += Block)
        {
            int length = Math.Min(Block, p.Length - start);
            var block = gradient[..length];
            BFloat16Bits.Widen(g.Slice(start, length), block);
            Update(p.Slice(start, length), block, m.Slice(start, length), v.Slice(start, length), c);
            BFloat16Bits.Round(p.Slice(start, length), copy.Slice(start, length));
        }
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

    private sealed record Chunk(Parameter Parameter, Tensor Gradient, Parameter? Copy, State State, Coefficients Coefficients, int Offset, int Length);
}
