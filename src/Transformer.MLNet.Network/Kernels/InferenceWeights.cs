using Transformer.MLNet.Network.Bert;
using TorchSharp;
using static TorchSharp.torch;

namespace Transformer.MLNet.Network.Kernels;

/// <summary>
/// The projection weights of a model packed once (<see cref="PackedWeight"/>) for one pass of inference over many
/// batches: while a thread has entered <see cref="Use"/>, <see cref="Projection.Linear"/> and the attention's stacked
/// query/key/value projection answer from the packed copies instead of repacking the weights on every call.
/// </summary>
/// <remarks>
/// A set is built at the start of a pass and disposed at its end, so that changes to the weights between passes
/// (fine-tuning a shared model) are always seen; within a pass the weights must not change. Lookups match the
/// weight and bias tensors by identity and apply only without autograd. <see cref="For"/> builds a set only on CPUs
/// where the packed kernel was measured faster than the product projections use otherwise (libtorch's matmul, or
/// <see cref="Projection"/>'s 512-bit product where that was chosen) on an encoder-sized projection (once per process,
/// on one thread, best of nine alternating runs, at most 0.96 of the other's time); elsewhere it returns null.
/// </remarks>
internal sealed class InferenceWeights : IDisposable
{
    [ThreadStatic]
    private static InferenceWeights? t_current;

    private static readonly Lazy<bool> Measured = new(MeasureFaster);

    /// <summary>The most floats one set packs (by default 1 GiB; tests lower it): beyond that the remaining projections stay with libtorch, so a
    /// large model's pass does not double its weights' memory without bound.</summary>
    internal static long MaxPackedFloats { get; set; } = DefaultMaxPackedFloats;

    /// <summary>The default of <see cref="MaxPackedFloats"/>: 2^28 floats.</summary>
    internal const long DefaultMaxPackedFloats = 1L << 28;

    private readonly Dictionary<IntPtr, (IntPtr[] Weights, PackedWeight Pack)> _packs = [];

    // Query/key/value stacks that are not packed (bfloat16, or where packing is not used on this CPU): their weights
    // and biases concatenated once for the pass instead of on every call.
    private readonly Dictionary<IntPtr, (IntPtr[] Weights, (IntPtr[] Biases, Tensor Weight, Tensor? Bias) Stack)> _stacks = [];
    // bfloat16 projections reordered for FusedLinear, by the handle of the stack's first weight: the stack's weight
    // handles, its bias handles, the reordered (stacked) weight and the (stacked) bias.
    private readonly Dictionary<IntPtr, (IntPtr[] Weights, (IntPtr[] Biases, Tensor Weight, Tensor Bias) Blocked)> _blocked = [];
    private long _packedFloats;

    /// <summary>Rows the reordered bfloat16 weights are laid out for: a batch of 32 texts of 16 tokens.</summary>
    private const long BlockedRowsHint = 512;

    private InferenceWeights()
    {
    }

    /// <summary>Forces the choice (tests): true packs wherever the CPU has AVX2 and FMA, false never; null measures.</summary>
    internal static bool? Override { get; set; }

    private static long s_built;

    /// <summary>Calls of <see cref="For"/> so far in this process.</summary>
    internal static long Built => Interlocked.Read(ref s_built);

    /// <summary>Whether <see cref="For"/> packs weights in this process.</summary>
    internal static bool Available =>
        PackedWeight.Supported && (Override ?? Measured.Value);

    /// <summary>How many weight stacks were packed.</summary>
    public int Count => _packs.Count;

    /// <summary>
    /// Packs the float32 CPU projections of <paramref name="model"/>: each BERT self-attention's query, key and value
    /// as one stack, every other linear layer of at least 16 outputs and 64 inputs on its own, up to
    /// <see cref="MaxPackedFloats"/> in all, where packing is used on this CPU (see <see cref="Available"/>). bfloat16
    /// projections with biases are reordered for <see cref="FusedLinear"/> instead, query/key/value stacked, where that
    /// is used in this process. Query, key and value stacks that are neither (packing not used here, or bfloat16 without
    /// the fused product) are concatenated once for the pass. Null where nothing qualifies.
    /// </summary>
    public static InferenceWeights? For(nn.Module model)
    {
        ArgumentNullException.ThrowIfNull(model);
        Interlocked.Increment(ref s_built);
        bool pack = Available;
        var set = new InferenceWeights();
        try
        {
            var stacked = new HashSet<IntPtr>();
            foreach (var module in model.modules())
            {
                if (module is BertSelfAttention attention)
                {
                    var (query, key, value) = attention.Projections;
                    Tensor[] weights = [query.weight!, key.weight!, value.weight!];
                    Tensor?[] biases = [query.bias, key.bias, value.bias];
                    if ((pack && set.Add(weights, biases)) || set.AddBlocked(weights, biases))
                        stacked.UnionWith(weights.Select(w => w.Handle));
                    else
                        set.AddStack(weights, biases);
                }
            }
            foreach (var module in model.modules())
            {
                if (module is TorchSharp.Modules.Linear linear && !stacked.Contains(linear.weight!.Handle)
                    && !(pack && set.Add([linear.weight!], [linear.bias])))
                    set.AddBlocked([linear.weight!], [linear.bias]);
            }
            if (set.Count > 0 || set._stacks.Count > 0 || set._blocked.Count > 0)
                return set;
            set.Dispose();
            return null;
        }
        catch
        {
            set.Dispose();
            throw;
        }
    }

    // Packs one stack if it qualifies; false if it does not.
    private bool Add(Tensor[] weights, Tensor?[] biases)
    {
        // What the kernel takes, and worth it: at least a panel of outputs and 64 inputs.
        if (PackedWeight.Unpackable(weights, biases) is not null || weights.Any(w => w.shape[0] < PackedWeight.NR) || weights[0].shape[1] < 64)
            return false;
        long floats = weights.Sum(w => w.numel());
        if (_packs.ContainsKey(weights[0].Handle) || _packedFloats + floats > MaxPackedFloats)
            return false;
        using var noGrad = no_grad();
        _packs.Add(weights[0].Handle, (weights.Select(w => w.Handle).ToArray(), PackedWeight.Create(weights, biases)));
        _packedFloats += floats;
        return true;
    }

    // Concatenates one query/key/value stack that was not packed, if it is not already held.
    // bfloat16 weights with biases, where FusedLinear is used in this process: reordered (stacked first) once for the pass.
    private bool AddBlocked(Tensor[] weights, Tensor?[] biases)
    {
        if (weights.Any(w => w.dtype != ScalarType.BFloat16 || w.device_type != DeviceType.CPU || w.dim() != 2 || w.shape[1] != weights[0].shape[1])
            || biases.Any(b => b is null || b.dtype != ScalarType.BFloat16 || b.device_type != DeviceType.CPU || b.dim() != 1))
            return false;
        long floats = weights.Sum(w => w.numel());
        if (_blocked.ContainsKey(weights[0].Handle) || _packedFloats + floats > MaxPackedFloats || !FusedLinear.Available)
            return false;
        using var noGrad = no_grad();
        using var stack = weights.Length == 1 ? weights[0].alias() : cat(weights, 0);
        var blocked = FusedLinear.Prepack(stack, BlockedRowsHint);
        if (blocked is null)
            return false;
        var bias = biases.Length == 1 ? biases[0]!.alias() : cat(biases!, 0);
        _blocked.Add(weights[0].Handle, ([.. weights.Select(w => w.Handle)], ([.. biases.Select(b => b!.Handle)], blocked, bias)));
        _packedFloats += floats;
        return true;
    }

    /// <summary>The reordered bfloat16 copy of a projection by <paramref name="weights"/> (stacked) and
    /// <paramref name="biases"/>, with its (stacked) bias, for <see cref="FusedLinear.Forward"/>; null as for
    /// <see cref="Find"/>.</summary>
    internal static (Tensor Weight, Tensor Bias)? FindBlocked(ReadOnlySpan<Tensor> weights, ReadOnlySpan<Tensor?> biases) =>
        Entry(t_current?._blocked, weights) is var (handles, (biasHandles, weight, bias)) && SameStack(handles, biasHandles, weights, biases)
            ? (weight, bias)
            : null;

    private void AddStack(Tensor[] weights, Tensor?[] biases)
    {
        if (_stacks.ContainsKey(weights[0].Handle) || weights.Any(w => w.dim() != 2 || w.device_type != weights[0].device_type))
            return;
        bool noBias = biases.All(b => b is null);
        if (!noBias && biases.Any(b => b is null))
            return;
        using var noGrad = no_grad();
        var weight = cat(weights, 0);
        var bias = noBias ? null : cat(biases!, 0);
        _stacks.Add(weights[0].Handle, ([.. weights.Select(w => w.Handle)], ([.. biases.Select(b => b?.Handle ?? IntPtr.Zero)], weight, bias)));
    }

    /// <summary>The concatenated copy of a query/key/value stack that was not packed, if the calling thread has entered a set
    /// holding exactly that stack and no gradient is being recorded; else null.</summary>
    internal static (Tensor Weight, Tensor? Bias)? FindStack(ReadOnlySpan<Tensor> weights, ReadOnlySpan<Tensor?> biases) =>
        Entry(t_current?._stacks, weights) is var (handles, (biasHandles, weight, bias)) && SameStack(handles, biasHandles, weights, biases)
            ? (weight, bias)
            : null;

    // The entry keyed by the first weight in the calling thread's set, when a set is entered and no gradient is recorded.
    private static (IntPtr[] Weights, T Value)? Entry<T>(Dictionary<IntPtr, (IntPtr[] Weights, T Value)>? entries, ReadOnlySpan<Tensor> weights) =>
        entries is not null && weights.Length > 0 && !is_grad_enabled() && entries.TryGetValue(weights[0].Handle, out var entry) ? entry : null;

    // Whether an entry holds exactly these weights and biases, in this order.
    private static bool SameStack(IntPtr[] weightHandles, IntPtr[] biasHandles, ReadOnlySpan<Tensor> weights, ReadOnlySpan<Tensor?> biases)
    {
        if (weightHandles.Length != weights.Length)
            return false;
        for (int i = 0; i < weights.Length; i++)
        {
            if (weightHandles[i] != weights[i].Handle || biasHandles[i] != (biases[i]?.Handle ?? IntPtr.Zero))
                return false;
        }
        return true;
    }

    /// <summary>Makes this set the one the calling thread's projections read, until the result is disposed (which
    /// restores the thread's previous set).</summary>
    public IDisposable Use() => new Entered(this);

    /// <summary>The packed copy of a projection by <paramref name="weights"/> (stacked) and <paramref name="biases"/>, if the
    /// calling thread has entered a set holding exactly that stack and no gradient is being recorded; else null.</summary>
    internal static PackedWeight? Find(ReadOnlySpan<Tensor> weights, ReadOnlySpan<Tensor?> biases) =>
        Entry(t_current?._packs, weights) is var (handles, pack) && SameStack(handles, pack.BiasHandles, weights, biases) ? pack : null;

    /// <summary>Frees the packed copies.</summary>
    public void Dispose()
    {
        foreach (var (_, pack) in _packs.Values)
            pack.Dispose();
        _packs.Clear();
        foreach (var (_, (_, weight, bias)) in _stacks.Values)
        {
            weight.Dispose();
            bias?.Dispose();
        }
        _stacks.Clear();
        foreach (var (_, (_, weight, bias)) in _blocked.Values)
        {
            weight.Dispose();
            bias.Dispose();
        }
        _blocked.Clear();
    }

    // On a thread of its own with one intra-op thread (the arrangement of batched inference): the packed product
    // against what Projection.Linear does otherwise, on 192 rows of 384 features into 1536 outputs. Projection's own
    // choice is made first, before this thread drops to one intra-op thread, so that it sees the default count.
    private static bool MeasureFaster()
    {
        if (!PackedWeight.Supported)
            return false;
        bool faster = false;
        var thread = new Thread(() =>
        {
            try
            {
                _ = Projection.UsesGemm;
                set_num_threads(1);
                using var scope = NewDisposeScope();
                using var noGrad = no_grad();
                var (x, weight, bias) = Projection.MeasurementOperands(192, 384, 1536);
                using var pack = PackedWeight.Create([weight], [bias]);
                faster = Projection.TakesAtMost(() => pack.Forward(x), () => Projection.Linear(x, weight, bias), rounds: 9, share: 0.96);
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                faster = false;   // a failed measurement keeps libtorch
            }
        }) { IsBackground = true, Name = "Projection measurement" };
        thread.Start();
        thread.Join();
        return faster;
    }

    private sealed class Entered : IDisposable
    {
        private readonly InferenceWeights? _previous;
        private bool _disposed;

        public Entered(InferenceWeights set)
        {
            _previous = t_current;
            t_current = set;
        }

        public void Dispose()
        {
            if (_disposed)
                return;
            _disposed = true;
            t_current = _previous;
        }
    }
}
