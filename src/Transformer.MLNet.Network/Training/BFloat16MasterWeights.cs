using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Transformer.MLNet.Network.Training;

/// <summary>
/// Explicit bfloat16 mixed precision, since TorchSharp has no autocast: the model's weights, activations and
/// gradients are bfloat16 (so matmuls run on the CPU's BF16 units), while the optimizer updates float32 master
/// copies that are copied back into the model after every step. Small updates therefore accumulate in float32
/// instead of being rounded away by bfloat16's 8-bit mantissa.
/// </summary>
internal sealed class BFloat16MasterWeights : IDisposable
{
    private readonly nn.Module model;
    private readonly Parameter[] masters;

    /// <summary>Takes float32 master copies of <paramref name="model"/>'s parameters, then converts the model to bfloat16.</summary>
    /// <param name="model">A float32 model; it is converted in place.</param>
    /// <exception cref="ArgumentException">The model's parameters are not float32.</exception>
    public BFloat16MasterWeights(nn.Module model)
    {
        this.model = model;
        var parameters = model.parameters().ToArray();
        if (parameters.FirstOrDefault(p => p.dtype != ScalarType.Float32) is { } other)
            throw new ArgumentException(
                $"bfloat16 training needs a float32 model to take master weights from, but a parameter is {other.dtype}. " +
                "Build the model in float32 and let BFloat16MasterWeights convert it.", nameof(model));

        using (no_grad())
        {
            masters = parameters
                .Select(p => new Parameter(p.detach().clone(), requires_grad: true).DetachFromDisposeScope() as Parameter ?? throw new InvalidOperationException())
                .ToArray();
        }

        model.to(ScalarType.BFloat16);
    }

    /// <summary>The float32 parameters the optimizer must update, in the order of <c>model.parameters()</c>.</summary>
    public IReadOnlyList<Parameter> Masters => masters;

    /// <summary>Copies the model's bfloat16 gradients into the masters' float32 gradients.</summary>
    public void CopyGradientsToMasters()
    {
        var parameters = model.parameters().ToArray();
        for (int i = 0; i < parameters.Length; i++)
        {
            using var gradient = parameters[i].grad;
            if (gradient is null)
                continue;
            using var master = masters[i].grad;
            if (master is null)
            {
                using var converted = gradient.to_type(ScalarType.Float32);
                masters[i].grad = converted;
            }
            else
            {
                master.copy_(gradient);
            }
        }
    }

    /// <summary>Rounds the updated float32 masters into the model's bfloat16 parameters.</summary>
    public void CopyMastersToModel()
    {
        using var noGrad = no_grad();
        var parameters = model.parameters().ToArray();
        for (int i = 0; i < parameters.Length; i++)
            parameters[i].copy_(masters[i]);
    }

    /// <summary>
    /// Converts the model back to float32 and gives it the master weights exactly (not their bfloat16 rounding), for
    /// inference or saving after training. The masters stay usable until disposed.
    /// </summary>
    public void RestoreFloat32Model()
    {
        model.to(ScalarType.Float32);
        CopyMastersToModel();
    }

    /// <summary>Frees the master weights.</summary>
    public void Dispose()
    {
        foreach (var master in masters)
            master.Dispose();
    }
}
