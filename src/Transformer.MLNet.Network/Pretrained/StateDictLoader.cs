using static TorchSharp.torch;

namespace Transformer.MLNet.Network.Pretrained;

/// <summary>Copies named tensors into a module's parameters, strictly: same names, same shapes, nothing left over.</summary>
internal static class StateDictLoader
{
    /// <summary>Loads <paramref name="weights"/> into <paramref name="module"/>.</summary>
    /// <param name="module">Target; its state dict names are the contract.</param>
    /// <param name="weights">Tensors by name (any float dtype; converted to the parameter's dtype).</param>
    /// <param name="source">Where the weights come from, for error messages.</param>
    /// <exception cref="InvalidDataException">A parameter is missing, unexpected or mis-shaped.</exception>
    public static void LoadStrict(nn.Module module, IReadOnlyDictionary<string, Tensor> weights, string source)
    {
        var expected = module.state_dict();
        CheckShapes(
            expected.ToDictionary(kv => kv.Key, kv => kv.Value.shape),
            weights.ToDictionary(kv => kv.Key, kv => kv.Value.shape),
            source,
            "Check that the checkpoint is a BERT model and that config.json matches it.");

        CheckFinite(weights, source);
        using var noGrad = no_grad();
        foreach (var (name, parameter) in expected)
            parameter.copy_(weights[name]);
    }

    /// <summary>
    /// Refuses weights holding NaN or infinity: no trained model has them, and loading them would turn every output into
    /// NaN without an error (a damaged file, or one saved from a run that diverged).
    /// </summary>
    /// <exception cref="InvalidDataException">A floating-point tensor holds a non-finite value.</exception>
    public static void CheckFinite(IReadOnlyDictionary<string, Tensor> weights, string source)
    {
        foreach (var (name, tensor) in weights)
        {
            if (!tensor.is_floating_point())
                continue;
            using var scope = NewDisposeScope();
            var finite = isfinite(tensor);
            if (finite.all().item<bool>())
                continue;
            long bad = finite.numel() - finite.count_nonzero().item<long>();
            long first = logical_not(finite).flatten().nonzero()[0, 0].item<long>();
            throw new InvalidDataException(
                $"The weights from {source} hold non-finite values: '{name}' has {bad} NaN or infinite of its {tensor.numel()} " +
                $"values (the first at flat index {first}). The file is damaged or was saved from a training run that diverged; " +
                "use an intact copy of the model.");
        }
    }

    /// <summary>Checks that <paramref name="actual"/> has exactly the names and shapes of <paramref name="expected"/>.</summary>
    /// <param name="expected">The model's parameter shapes by name.</param>
    /// <param name="actual">The weights' shapes by name.</param>
    /// <param name="source">Where the weights come from, for error messages.</param>
    /// <param name="advice">The last sentence of the message: what to check.</param>
    /// <exception cref="InvalidDataException">A parameter is missing, unexpected or mis-shaped.</exception>
    public static void CheckShapes(
        IReadOnlyDictionary<string, long[]> expected, IReadOnlyDictionary<string, long[]> actual, string source, string advice)
    {
        var missing = expected.Keys.Where(k => !actual.ContainsKey(k)).ToList();
        var unexpected = actual.Keys.Where(k => !expected.ContainsKey(k)).ToList();
        var misShaped = expected
            .Where(kv => actual.TryGetValue(kv.Key, out var w) && !w.SequenceEqual(kv.Value))
            .Select(kv => $"{kv.Key}: expected [{string.Join(", ", kv.Value)}], got [{string.Join(", ", actual[kv.Key])}]")
            .ToList();
        if (missing.Count + unexpected.Count + misShaped.Count > 0)
        {
            static string List(string what, List<string> items) =>
                items.Count == 0 ? "" : $" {items.Count} {what}: {string.Join("; ", items.Take(8))}{(items.Count > 8 ? "; ..." : "")}.";
            throw new InvalidDataException(
                $"The weights from {source} do not fit the model ({expected.Count} parameters)." +
                List("missing", missing) + List("unexpected", unexpected) + List("mis-shaped", misShaped) + " " + advice);
        }
    }
}
