using TorchSharp;
using TorchSharp.Modules;
using Transformer.MLNet.Network.IO;
using Transformer.MLNet.Network.Pretrained;
using Transformer.MLNet.Network.Runtime;
using static TorchSharp.torch;

namespace Transformer.MLNet.Network.Training;

/// <summary>
/// Everything between a micro-batch's loss and updated weights, shared by all trainers: gradient accumulation,
/// bfloat16 master weights, global-norm clipping, the learning-rate schedule and the AdamW step.
/// </summary>
/// <remarks>
/// Typical loop, one dispose scope per micro-batch:
/// <code>
/// using var updater = new ParameterUpdater(model, options, schedule);
/// foreach (var batch in batches)
/// {
///     using var scope = torch.NewDisposeScope();
///     using var loss = ComputeLoss(model, batch);
///     updater.Backward(loss);
/// }
/// updater.Flush();
/// </code>
/// With <see cref="TrainingPrecision.BFloat16"/> the constructor converts the model to bfloat16; feed it the same
/// inputs (token ids need no change) and compute the loss in float32 (<see cref="LabelSmoothedCrossEntropy"/> does).
/// <para>On Linux with glibc, the first updater of a process tells the C allocator to keep freed large blocks for reuse
/// instead of unmapping them (no mmap-served blocks, no automatic trimming), because mapping and zero-filling a step's
/// vocabulary-sized buffers anew every step cost translation training a quarter of its CPU time; <see cref="Dispose"/>
/// hands free memory back. Setting glibc's <c>MALLOC_MMAP_MAX_</c> or <c>MALLOC_TRIM_THRESHOLD_</c> environment
/// variables keeps the allocator as you configured it.</para>
/// </remarks>
public sealed class ParameterUpdater : IDisposable
{
    private readonly nn.Module model;
    private readonly TrainingOptions options;
    private readonly LearningRateSchedule schedule;
    private readonly BFloat16MasterWeights? masterWeights;
    private readonly IReadOnlyList<Parameter> optimised;
    private readonly optim.Optimizer optimizer;
    private int pendingMicroBatches;

    /// <summary>Creates the optimizer (and bfloat16 master weights when asked for) for <paramref name="model"/>.</summary>
    /// <param name="model">A float32 model, in training mode.</param>
    /// <param name="options">Optimizer, clipping, accumulation and precision settings.</param>
    /// <param name="schedule">Learning rate per update; null uses <paramref name="options"/>' learning rate, warmup and decay over <paramref name="totalSteps"/>.</param>
    /// <param name="totalSteps">Updates in the run, used when <paramref name="schedule"/> is null.</param>
    public ParameterUpdater(nn.Module model, TrainingOptions options, LearningRateSchedule? schedule = null, long totalSteps = 10_000)
    {
        this.model = model;
        this.options = options.Validate();
        // Every step frees and reallocates the same large activation and gradient buffers; keeping them in the heap
        // saves the kernel from mapping and zero-filling them again each step (see NativeHeap).
        NativeHeap.RetainFreedMemory();
        this.schedule = (schedule ?? new LearningRateSchedule(options.LearningRate, options.WarmupSteps, totalSteps, options.Decay)).Validate();
        if (options.Precision == TrainingPrecision.BFloat16)
        {
            masterWeights = new BFloat16MasterWeights(model);
            optimised = masterWeights.Masters;
        }
        else
        {
            optimised = model.parameters().ToArray();
        }

        optimizer = OptimizerFactory.AdamW(optimised, options);
    }

    /// <summary>Updates applied so far.</summary>
    public long CompletedSteps { get; private set; }

    /// <summary>Learning rate the next update will use.</summary>
    public double LearningRate => schedule.At(CompletedSteps, MinimumScheduleProgress);

    /// <summary>
    /// Lower bound, in [0, 1], of how far the learning-rate decay has progressed; a time-budgeted loop sets it to the
    /// fraction of the budget spent (see <see cref="LearningRateSchedule.At(long, double)"/>). Default 0.
    /// </summary>
    public double MinimumScheduleProgress { get; set; }

    /// <summary>Global L2 norm of the gradients before clipping, at the last update (NaN before the first).</summary>
    public double LastGradientNorm { get; private set; } = double.NaN;

    /// <summary>Micro-batches back-propagated since the last update.</summary>
    public int PendingMicroBatches => pendingMicroBatches;

    /// <summary>
    /// Micro-batches dropped because their loss or gradients were not finite (only with
    /// <see cref="TrainingOptions.SkipNonFiniteBatches"/>; otherwise such a batch throws).
    /// </summary>
    public long SkippedBatches { get; private set; }

    /// <summary>
    /// Back-propagates one micro-batch's mean loss, scaled by 1/<see cref="TrainingOptions.AccumulationSteps"/> so that
    /// the summed gradient is the mean over the effective batch; updates the weights after every
    /// <see cref="TrainingOptions.AccumulationSteps"/> micro-batches.
    /// </summary>
    /// <param name="loss">Scalar loss of the micro-batch.</param>
    /// <returns>True when this call applied an update.</returns>
    /// <exception cref="ArithmeticException">The loss or the gradients are NaN or infinite (lower the learning rate or
    /// check the inputs), unless <see cref="TrainingOptions.SkipNonFiniteBatches"/> is set.</exception>
    public bool Backward(Tensor loss)
    {
        if (!AcceptsLoss(loss.ToDouble()))
            return false;
        using (var scaled = Scaled(loss))
            scaled.backward();
        return CompleteMicroBatch();
    }

    /// <summary>
    /// Completes one micro-batch computed as parts on two threads at once (<see cref="SplitMicroBatch"/>), whose
    /// gradients both parts accumulated already, or (<paramref name="others"/> not null) the calling thread's part did
    /// and the other part's gradients (in the order of <paramref name="parameters"/>, null where unused) are added now,
    /// after it, so that the sums do not depend on which thread finished first. Takes ownership of
    /// <paramref name="others"/>.
    /// </summary>
    internal bool CompleteSplit(IReadOnlyList<Parameter> parameters, IReadOnlyList<Tensor?>? others)
    {
        if (others is null)
            return CompleteMicroBatch();
        using (no_grad())
        {
            for (int i = 0; i < parameters.Count; i++)
            {
                if (others[i] is not { } gradient)
                    continue;
                if (parameters[i].grad is { } accumulated)
                {
                    accumulated.add_(gradient);
                    gradient.Dispose();
                }
                else
                {
                    parameters[i].grad = gradient;
                }
            }
        }

        return CompleteMicroBatch();
    }

    /// <summary>The parameters that receive gradients: the model's own (in bfloat16 training, its bfloat16 copies).</summary>
    internal IReadOnlyList<Parameter> TrainedParameters() => [.. model.parameters().Where(p => p.requires_grad)];

    /// <summary>Whether a micro-batch with this loss is back-propagated: true where finite; otherwise counts it as skipped
    /// (<see cref="TrainingOptions.SkipNonFiniteBatches"/>) and returns false, or throws.</summary>
    internal bool AcceptsLoss(double value)
    {
        if (double.IsFinite(value))
            return true;
        if (options.SkipNonFiniteBatches)
        {
            SkippedBatches++;
            return false;
        }

        throw new ArithmeticException(
            $"The training loss is {value} at update {CompletedSteps + 1}. Lower LearningRate (now {options.LearningRate}), check the " +
            "inputs for invalid token ids, or set SkipNonFiniteBatches to drop such batches.");
    }

    /// <summary>The loss as back-propagated: divided by <see cref="TrainingOptions.AccumulationSteps"/>, so that the
    /// summed gradient is the mean over the effective batch.</summary>
    internal Tensor Scaled(Tensor loss) => options.AccumulationSteps == 1 ? loss.alias() : loss / options.AccumulationSteps;

    private bool CompleteMicroBatch()
    {
        if (++pendingMicroBatches < options.AccumulationSteps)
            return false;
        return Update();
    }

    /// <summary>Applies an update from the micro-batches seen since the last one, if any (call at the end of an epoch).</summary>
    /// <returns>True when an update was applied.</returns>
    public bool Flush()
    {
        if (pendingMicroBatches == 0)
            return false;
        return Update();
    }

    /// <summary>
    /// Writes what a resumed run needs besides the weights: the update count and the optimizer's moments (TorchSharp's
    /// own binary optimizer format; with bfloat16 training, the moments of the float32 master weights). Call between
    /// updates, with no gradients pending; save the weights with <see cref="Float32State"/>.
    /// </summary>
    /// <param name="path">The file to write.</param>
    public void SaveState(string path)
    {
        if (pendingMicroBatches != 0)
            throw new InvalidOperationException($"{pendingMicroBatches} micro-batches of gradients are pending; save state only between updates.");
        AtomicFile.Write(path, file =>
        {
            using var writer = new BinaryWriter(file, System.Text.Encoding.UTF8, leaveOpen: true);
            writer.Write(CompletedSteps);
            writer.Write(SkippedBatches);
            ((OptimizerHelper)optimizer).save_state_dict(writer);
        });
    }

    /// <summary>Restores what <see cref="SaveState"/> wrote, for the same model and options.</summary>
    /// <param name="path">The file.</param>
    /// <exception cref="InvalidDataException">The file is not an optimizer state of this model.</exception>
    public void LoadState(string path)
    {
        using var file = File.OpenRead(path);
        using var reader = new BinaryReader(file);
        try
        {
            long steps = reader.ReadInt64();
            long skipped = reader.ReadInt64();
            ((OptimizerHelper)optimizer).load_state_dict(reader);
            CompletedSteps = steps;
            SkippedBatches = skipped;
            pendingMicroBatches = 0;
        }
        catch (Exception e) when (e is EndOfStreamException or ArgumentException or IOException)
        {
            throw new InvalidDataException($"Optimizer state '{path}' is truncated or belongs to another model or optimizer: {e.Message}", e);
        }
    }

    private bool Update()
    {
        using var scope = NewDisposeScope();
        // bfloat16 training with the fused AdamW: the step reads the model's bfloat16 gradients and writes its bfloat16
        // weights itself; otherwise the gradients go to the float32 masters first and the masters back afterwards.
        var copies = masterWeights is not null && optimizer is Fused.AdamW ? CopiesByMaster() : null;
        if (copies is null)
            masterWeights?.CopyGradientsToMasters();
        var withGradients = (copies is null ? optimised : model.parameters()).Where(p => p.grad is not null).ToList();
        LastGradientNorm = Fused.GradientNorm.Compute(withGradients);
        if (!double.IsFinite(LastGradientNorm))
        {
            if (!options.SkipNonFiniteBatches)
            {
                throw new ArithmeticException(
                    $"The gradient norm is {LastGradientNorm} at update {CompletedSteps + 1}. Lower LearningRate (now {options.LearningRate}), " +
                    "keep MaxGradientNorm clipping on, or set SkipNonFiniteBatches to drop such batches.");
            }

            SkippedBatches += pendingMicroBatches;
            ClearGradients();
            pendingMicroBatches = 0;
            return false;
        }

        // Global-norm clipping (Pascanu et al. 2013) with libtorch's coefficient, max / (norm + 1e-6), where below 1;
        // the fused AdamW applies it as it reads each gradient, other optimizers get the gradients scaled in place.
        float clip = options.MaxGradientNorm > 0 ? (float)(options.MaxGradientNorm / (LastGradientNorm + 1e-6)) : 1;
        if (clip < 1)
        {
            if (optimizer is Fused.AdamW fused)
            {
                fused.GradientScale = clip;
            }
            else
            {
                foreach (var parameter in withGradients)
                    parameter.grad!.mul_(clip);
            }
        }

        double rate = schedule.At(CompletedSteps, MinimumScheduleProgress);
        foreach (var group in optimizer.ParamGroups)
            group.LearningRate = rate;
        if (copies is not null)
            ((Fused.AdamW)optimizer).BFloat16Copies = copies;
        optimizer.step();
        ClearGradients();
        if (masterWeights is not null && copies is null)
            masterWeights.CopyMastersToModel();

        pendingMicroBatches = 0;
        CompletedSteps++;
        return true;
    }

    /// <summary>
    /// Ends an update's gradients. The model's are released rather than zeroed (PyTorch's <c>set_to_none</c>): the next
    /// backward then stores each gradient as computed instead of adding it to zeros, which saves a pass that zeroes every
    /// gradient and one that adds to it. The float32 masters of bfloat16 training keep theirs, zeroed, since
    /// <see cref="BFloat16MasterWeights.CopyGradientsToMasters"/> copies into them. A parameter without a gradient at the
    /// next update is left out of it, as in PyTorch: no moment or weight-decay step for it.
    /// </summary>
    private void ClearGradients()
    {
        if (masterWeights is not null)
            optimizer.zero_grad();
        model.zero_grad();
    }

    /// <summary>The model's bfloat16 parameters by the handle of their float32 master (the same order in both lists).</summary>
    private Dictionary<IntPtr, Parameter> CopiesByMaster()
    {
        var copies = new Dictionary<IntPtr, Parameter>();
        foreach (var (master, copy) in masterWeights!.Masters.Zip(model.parameters()))
            copies[master.Handle] = copy;
        return copies;
    }

    /// <summary>
    /// The parameters in float32, in the order of <c>model.parameters()</c>: the master copies when training in
    /// bfloat16, otherwise the model's own parameters.
    /// </summary>
    public IReadOnlyList<Parameter> Float32Parameters => masterWeights?.Masters ?? optimised;

    /// <summary>
    /// The model's state by <c>state_dict</c> key with every parameter in float32: the master copy when training in
    /// bfloat16 (exact, not its bfloat16 rounding), otherwise the parameter itself; buffers as the model holds them. The
    /// tensors are the live ones, not copies.
    /// </summary>
    internal Dictionary<string, Tensor> Float32State()
    {
        var exact = model.named_parameters().Select((p, i) => (p.name, Master: (Tensor)Float32Parameters[i])).ToDictionary(p => p.name, p => p.Master);
        return model.state_dict().ToDictionary(kv => kv.Key, kv => exact.GetValueOrDefault(kv.Key) ?? kv.Value);
    }

    /// <summary>
    /// Loads weights saved from <see cref="Float32State"/> into the model and, when training in bfloat16, exactly into
    /// the master weights, so that training continues as if never interrupted.
    /// </summary>
    /// <param name="weights">Tensors by <c>state_dict</c> key.</param>
    /// <param name="source">Where they come from, for error messages.</param>
    /// <exception cref="InvalidDataException">A parameter is missing, unexpected or mis-shaped.</exception>
    internal void LoadFloat32State(IReadOnlyDictionary<string, Tensor> weights, string source)
    {
        StateDictLoader.LoadStrict(model, weights, source);
        if (masterWeights is null)
            return;
        using var noGrad = no_grad();
        foreach (var ((name, _), master) in model.named_parameters().Zip(masterWeights.Masters))
            master.copy_(weights[name]);
    }

    /// <summary>
    /// After bfloat16 training, converts the model back to float32 with the exact master weights; does nothing for
    /// float32 training. Call once training is over, before disposing this updater.
    /// </summary>
    public void RestoreFloat32Model() => masterWeights?.RestoreFloat32Model();

    /// <summary>Frees the optimizer state and master weights (not the model), and hands free native memory back to the system.</summary>
    public void Dispose()
    {
        optimizer.Dispose();
        masterWeights?.Dispose();
        // Training kept its step buffers in the heap; once it is over they are only resident size.
        NativeHeap.Trim();
    }
}
