using System.Runtime.InteropServices;
using Onnx;
using static TorchSharp.torch;

namespace Transformer.MLNet.Network.Pretrained;

/// <summary>
/// Recovers a Hugging Face BERT state dict from a BERT graph exported to ONNX by PyTorch. Embeddings, LayerNorms,
/// biases and the pooler keep their HF names there, but the weight of every linear layer is an anonymous numbered
/// initializer, stored transposed ([in, out]) and consumed by a <c>MatMul</c>; its name is recovered from the graph:
/// the <c>MatMul</c>'s output feeds an <c>Add</c> with the bias <c>X.bias</c>, so the weight is <c>X.weight</c>.
/// </summary>
internal static class OnnxBertWeights
{
    // Buffers that the exporter stores but that are not parameters of the model (HF: a non-persistent buffer).
    private static readonly HashSet<string> IgnoredInitializers = ["embeddings.position_ids"];

    /// <summary>Parses an ONNX model and returns its parameters by HF name, in HF layout ([out, in] for linear weights).</summary>
    /// <param name="onnx">The serialized ModelProto.</param>
    /// <returns>float32 CPU tensors; the caller owns them.</returns>
    public static Dictionary<string, Tensor> ReadStateDict(byte[] onnx)
    {
        var graph = ModelProto.Parser.ParseFrom(onnx).Graph
            ?? throw new InvalidDataException("The ONNX model has no graph.");
        var initializers = graph.Initializer.ToDictionary(i => i.Name);
        var consumers = graph.Node
            .SelectMany(n => n.Input.Select(input => (input, node: n)))
            .ToLookup(x => x.input, x => x.node);

        // Every tensor made here, including the views and wrappers that TorchSharp creates along the way, belongs to
        // this scope and is released on this thread when the method returns, rather than later by the finalizer
        // thread; only the results are detached from it.
        using var scope = NewDisposeScope();
        var result = new Dictionary<string, Tensor>();
        // Weights of linear layers: MatMul(activation, W[in, out]) -> Add(bias) .
        foreach (var matMul in graph.Node.Where(n => n.OpType == "MatMul" && n.Input.Count == 2 && initializers.ContainsKey(n.Input[1])))
        {
            var weight = initializers[matMul.Input[1]];
            var add = consumers[matMul.Output[0]].SingleOrDefault(n => n.OpType == "Add")
                ?? throw new InvalidDataException($"ONNX MatMul '{matMul.Name}' with weight initializer '{weight.Name}' feeds no bias Add; cannot name the weight.");
            var bias = add.Input.SingleOrDefault(i => i.EndsWith(".bias", StringComparison.Ordinal) && initializers.ContainsKey(i))
                ?? throw new InvalidDataException($"The Add after ONNX MatMul '{matMul.Name}' (weight '{weight.Name}') has no '*.bias' initializer input.");
            string name = bias[..^".bias".Length] + ".weight";
            var stored = ToTensor(weight);                                 // (in, out)
            Add(result, name, stored.t().contiguous(), weight.Name);       // (out, in), as nn.Linear
        }

        // Gemm (the pooler): Y = X Wᵀ + b when transB = 1, i.e. W already [out, in].
        foreach (var gemm in graph.Node.Where(n => n.OpType == "Gemm" && n.Input.Count >= 2 && initializers.ContainsKey(n.Input[1])))
        {
            var weight = initializers[gemm.Input[1]];
            bool transB = gemm.Attribute.Any(a => a.Name == "transB" && a.I == 1);
            bool transA = gemm.Attribute.Any(a => a.Name == "transA" && a.I == 1);
            if (transA)
                throw new InvalidDataException($"ONNX Gemm '{gemm.Name}' transposes its input (transA = 1); not a linear layer this importer knows.");
            string name = weight.Name.EndsWith(".weight", StringComparison.Ordinal) ? weight.Name
                : gemm.Input.Count > 2 && gemm.Input[2].EndsWith(".bias", StringComparison.Ordinal) ? gemm.Input[2][..^".bias".Length] + ".weight"
                : throw new InvalidDataException($"ONNX Gemm '{gemm.Name}' has an anonymous weight '{weight.Name}' and no named bias.");
            var stored = ToTensor(weight);
            Add(result, name, transB ? stored.clone() : stored.t().contiguous(), weight.Name);
        }

        // Every other float initializer with an HF-style name is a parameter under that name.
        foreach (var init in graph.Initializer)
        {
            if (init.DataType != (int)TensorProto.Types.DataType.Float || IgnoredInitializers.Contains(init.Name)
                || !init.Name.Contains('.', StringComparison.Ordinal) || result.ContainsKey(init.Name))
                continue;
            Add(result, init.Name, ToTensor(init), init.Name);
        }

        foreach (var t in result.Values)
            t.DetachFromDisposeScope();
        return result;
    }

    private static void Add(Dictionary<string, Tensor> result, string name, Tensor tensor, string source)
    {
        if (!result.TryAdd(name, tensor))
        {
            tensor.Dispose();
            throw new InvalidDataException($"The ONNX graph yields parameter '{name}' twice (second from initializer '{source}').");
        }
    }

    private static Tensor ToTensor(TensorProto proto)
    {
        if (proto.DataType != (int)TensorProto.Types.DataType.Float)
            throw new InvalidDataException($"ONNX initializer '{proto.Name}' has data type {proto.DataType}; only float32 (1) weights are supported.");
        if (proto.DataLocation == TensorProto.Types.DataLocation.External)
            throw new InvalidDataException($"ONNX initializer '{proto.Name}' is stored in an external file; only self-contained models are supported.");

        long[] shape = [.. proto.Dims];
        long count = shape.Aggregate(1L, (a, b) => a * b);
        float[] values = proto.RawData.Length > 0
            ? MemoryMarshal.Cast<byte, float>(proto.RawData.Span).ToArray()   // raw_data is little-endian, like this machine
            : [.. proto.FloatData];
        if (values.Length != count)
            throw new InvalidDataException($"ONNX initializer '{proto.Name}' holds {values.Length} floats for shape [{string.Join(", ", shape)}].");
        return tensor(values, shape);
    }
}
