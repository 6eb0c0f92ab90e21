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
        var missing = expected.Keys.Where(k => !weights.ContainsKey(k)).ToList();
        var unexpected = weights.Keys.Where(k => !expected.ContainsKey(k)).ToList();
        var misShaped = expected
            .Where(kv => weights.TryGetValue(kv.Key, out var w) && !w.shape.SequenceEqual(kv.Value.shape))
            .Select(kv => $"{kv.Key}: expected [{string.Join(", ", kv.Value.shape)}], got [{string.Join(", ", weights[kv.Key].shape)}]")
            .ToList();
        if (missing.Count + unexpected.Count + misShaped.Count > 0)
        {
            static string List(string what, List<string> items) =>
                items.Count == 0 ? "" : $" {items.Count} {what}: {string.Join("; ", items.Take(8))}{(items.Count > 8 ? "; ..." : "")}.";
            throw new InvalidDataException(
                $"The weights from {source} do not fit the model ({expected.Count} parameters)." +
                List("missing", missing) + List("unexpected", unexpected) + List("mis-shaped", misShaped) +
                " Check that the checkpoint is a BERT model and that config.json matches it.");
        }

        using var noGrad = no_grad();
        foreach (var (name, parameter) in expected)
            parameter.copy_(weights[name]);
    }
}
