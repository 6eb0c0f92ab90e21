using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Transformer.MLNet.Network.Training;

/// <summary>Builds the optimizer every trainer shares.</summary>
internal static class OptimizerFactory
{
    /// <summary>
    /// AdamW with two parameter groups: matrices (projections, embeddings) get weight decay; vectors (biases,
    /// LayerNorm gains and shifts) do not, since decaying them only shrinks scales the network needs. On the CPU its
    /// step is fused (<see cref="Fused.AdamW"/>).
    /// </summary>
    /// <param name="parameters">Parameters to optimise (a model's, or bfloat16 master copies).</param>
    /// <param name="options">Learning rate, betas, ε and weight decay.</param>
    public static optim.Optimizer AdamW(IEnumerable<Parameter> parameters, TrainingOptions options)
    {
        options.Validate();
        var all = parameters.ToList();
        var decayed = all.Where(p => p.dim() >= 2).ToList();
        var plain = all.Where(p => p.dim() < 2).ToList();
        var groups = new List<AdamW.ParamGroup>();
        if (decayed.Count > 0)
            groups.Add(new AdamW.ParamGroup(decayed, options.LearningRate, options.Beta1, options.Beta2, options.Epsilon, options.WeightDecay, false, false));
        if (plain.Count > 0)
            groups.Add(new AdamW.ParamGroup(plain, options.LearningRate, options.Beta1, options.Beta2, options.Epsilon, 0.0, false, false));
        if (groups.Count == 0)
            throw new ArgumentException("The model has no parameters to optimise.", nameof(parameters));
        return new Fused.AdamW(groups, options.LearningRate, options.Beta1, options.Beta2, options.Epsilon, options.WeightDecay);
    }
}
