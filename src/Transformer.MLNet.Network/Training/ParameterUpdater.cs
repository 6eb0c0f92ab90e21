using TorchSharp;
using TorchSharp.Modules;
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
    public double LearningRate => schedule.At(CompletedSteps);

    /// <summary>Global L2 norm of the gradients before clipping, at the last update (NaN before the first).</summary>
    public double LastGradientNorm { get; private set; } = double.NaN;

    /// <summary>
    /// Back-propagates one micro-batch's mean loss, scaled by 1/<see cref="TrainingOptions.AccumulationSteps"/> so that
    /// the summed gradient is the mean over the effective batch; updates the weights after every
    /// <see cref="TrainingOptions.AccumulationSteps"/> micro-batches.
    /// </summary>
    /// <param name="loss">Scalar loss of the micro-batch.</param>
    /// <returns>True when this call applied an update.</returns>
    /// <exception cref="ArithmeticException">The loss is NaN or infinite (lower the learning rate or check the inputs).</exception>
    public bool Backward(Tensor loss)
    {
        double value = loss.ToDouble();
        if (!double.IsFinite(value))
            throw new ArithmeticException(
                $"The training loss is {value} at update {CompletedSteps}. Lower TrainingOptions.LearningRate " +
                $"(now {options.LearningRate}) or check the inputs for invalid token ids.");

        using (var scaled = options.AccumulationSteps == 1 ? loss.alias() : loss / options.AccumulationSteps)
            scaled.backward();

        if (++pendingMicroBatches < options.AccumulationSteps)
            return false;
        Update();
        return true;
    }

    /// <summary>Applies an update from the micro-batches seen since the last one, if any (call at the end of an epoch).</summary>
    /// <returns>True when an update was applied.</returns>
    public bool Flush()
    {
        if (pendingMicroBatches == 0)
            return false;
        Update();
        return true;
    }

    private void Update()
    {
        using var scope = NewDisposeScope();
        masterWeights?.CopyGradientsToMasters();
        LastGradientNorm = options.MaxGradientNorm > 0
            ? nn.utils.clip_grad_norm_(optimised.Where(p => p.grad is not null), options.MaxGradientNorm)
            : double.NaN;

        double rate = schedule.At(CompletedSteps);
        foreach (var group in optimizer.ParamGroups)
            group.LearningRate = rate;
        optimizer.step();
        optimizer.zero_grad();
        if (masterWeights is not null)
        {
            model.zero_grad();
            masterWeights.CopyMastersToModel();
        }

        pendingMicroBatches = 0;
        CompletedSteps++;
    }

    /// <summary>Frees the optimizer state and master weights (not the model).</summary>
    public void Dispose()
    {
        optimizer.Dispose();
        masterWeights?.Dispose();
    }
}
