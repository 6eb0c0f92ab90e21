using System.Runtime.InteropServices;
using Google.Protobuf;
using Onnx;
using Transformer.MLNet.Network.IO;

namespace Transformer.MLNet.Network.Export;

/// <summary>
/// Rewrites an export folder with int8 weights for ONNX Runtime's integer matrix products (dynamic quantization):
/// every <c>MatMul</c> whose second input is a float weight [in, out] becomes
/// <c>DynamicQuantizeLinear(x) → MatMulInteger(x_u8, W_s8) → Cast → Mul(x_scale · w_scale)</c>, with one scale per
/// output column of W (symmetric, zero point 0). Activations are quantized per tensor at run time, by the standard
/// operators of opset 10–11, which ONNX Runtime fuses into its integer kernels. The matrix products between
/// activations (attention scores and context) stay float32.
/// </summary>
/// <remarks>
/// Weights use 7 bits (−63…63): on x86 CPUs without VNNI instructions the u8 × s8 kernels add pairs of products in 16
/// bits, which 8-bit weights can overflow (ONNX Runtime's own quantizer offers the same "reduced range" for that reason).
/// </remarks>
public static class OnnxInt8Quantizer
{
    /// <summary>The value of <see cref="OnnxExportManifest.WeightQuantization"/> for an export this class wrote.</summary>
    public const string Int8Dynamic = "Int8Dynamic";

    private const int WeightLevels = 63;

    /// <summary>Writes the int8 version of the export in <paramref name="exportFolder"/> to <paramref name="quantizedFolder"/>.</summary>
    /// <param name="exportFolder">A float32 export folder written by <c>ExportOnnx</c>.</param>
    /// <param name="quantizedFolder">Created if missing; must differ from <paramref name="exportFolder"/>.</param>
    /// <returns>The settings of the quantized export.</returns>
    /// <exception cref="FileNotFoundException">A file of the export is missing.</exception>
    /// <exception cref="InvalidDataException">The export is already quantized or holds no float weights to quantize.</exception>
    public static OnnxExportManifest Quantize(string exportFolder, string quantizedFolder)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(exportFolder);
        ArgumentException.ThrowIfNullOrWhiteSpace(quantizedFolder);
        if (string.Equals(Path.GetFullPath(exportFolder).TrimEnd(Path.DirectorySeparatorChar), Path.GetFullPath(quantizedFolder).TrimEnd(Path.DirectorySeparatorChar), StringComparison.Ordinal))
            throw new ArgumentException("The quantized export needs a folder of its own; the float32 export is kept.", nameof(quantizedFolder));
        foreach (string name in new[] { OnnxExportManifest.FileName, OnnxExportManifest.ModelFileName, OnnxExportManifest.VocabularyFileName })
        {
            if (!File.Exists(Path.Combine(exportFolder, name)))
                throw new FileNotFoundException($"'{exportFolder}' has no {name}; quantize a folder written by ExportOnnx(folder).", Path.Combine(exportFolder, name));
        }

        var manifest = OnnxExportManifest.FromJson(File.ReadAllText(Path.Combine(exportFolder, OnnxExportManifest.FileName)));
        if (manifest.WeightQuantization is not null)
            throw new InvalidDataException($"'{exportFolder}' is already quantized ({manifest.WeightQuantization}); quantize the float32 export.");

        ModelProto model;
        try
        {
            model = ModelProto.Parser.ParseFrom(File.ReadAllBytes(Path.Combine(exportFolder, OnnxExportManifest.ModelFileName)));
        }
        catch (InvalidProtocolBufferException e)
        {
            throw new InvalidDataException($"'{Path.Combine(exportFolder, OnnxExportManifest.ModelFileName)}' is not a readable ONNX model: {e.Message}", e);
        }

        int rewritten = Rewrite(model.Graph);
        if (rewritten == 0)
            throw new InvalidDataException($"'{exportFolder}' has no MatMul with a float weight; there is nothing to quantize.");

        manifest = manifest with { WeightQuantization = Int8Dynamic };
        Pretrained.OutputFolder.Create(quantizedFolder);
        AtomicFile.Write(Path.Combine(quantizedFolder, OnnxExportManifest.ModelFileName), stream => model.WriteTo(stream));
        File.Copy(Path.Combine(exportFolder, OnnxExportManifest.VocabularyFileName), Path.Combine(quantizedFolder, OnnxExportManifest.VocabularyFileName), overwrite: true);
        AtomicFile.WriteAllText(Path.Combine(quantizedFolder, OnnxExportManifest.FileName), manifest.ToJson());
        return manifest;
    }

    /// <summary>Replaces the graph's weight MatMuls in place; returns how many.</summary>
    private static int Rewrite(GraphProto graph)
    {
        var initializers = graph.Initializer.ToDictionary(i => i.Name);
        var quantizedInputs = new Dictionary<string, (string Values, string Scale, string ZeroPoint)>(StringComparer.Ordinal);
        var nodes = new List<NodeProto>();
        var replacedWeights = new HashSet<string>(StringComparer.Ordinal);
        int count = 0;
        foreach (var node in graph.Node)
        {
            if (node.OpType != "MatMul" || node.Input.Count != 2 || !initializers.TryGetValue(node.Input[1], out var weight)
                || weight.DataType != (int)TensorProto.Types.DataType.Float || weight.Dims.Count != 2)
            {
                nodes.Add(node);
                continue;
            }

            string x = node.Input[0];
            if (!quantizedInputs.TryGetValue(x, out var q))
            {
                q = ($"{x}_quantized", $"{x}_scale", $"{x}_zero_point");
                nodes.Add(Node("DynamicQuantizeLinear", $"{x}_DynamicQuantizeLinear", [x], [q.Values, q.Scale, q.ZeroPoint]));
                quantizedInputs[x] = q;
            }

            var (values, scales) = QuantizeColumns(weight);
            string w = weight.Name;
            graph.Initializer.Add(Int8Tensor($"{w}_int8", values, weight.Dims));
            graph.Initializer.Add(FloatTensor($"{w}_scale", scales, [weight.Dims[1]]));
            graph.Initializer.Add(Int8Tensor($"{w}_zero_point", new sbyte[weight.Dims[1]], [weight.Dims[1]]));
            replacedWeights.Add(w);

            string output = node.Output[0];
            nodes.Add(Node("MatMulInteger", $"{node.Name}_MatMulInteger", [q.Values, $"{w}_int8", q.ZeroPoint, $"{w}_zero_point"], [$"{output}_int32"]));
            var cast = Node("Cast", $"{node.Name}_Cast", [$"{output}_int32"], [$"{output}_float"]);
            cast.Attribute.Add(new AttributeProto { Name = "to", Type = AttributeProto.Types.AttributeType.Int, I = (long)TensorProto.Types.DataType.Float });
            nodes.Add(cast);
            nodes.Add(Node("Mul", $"{node.Name}_Scale", [q.Scale, $"{w}_scale"], [$"{output}_scale"]));
            nodes.Add(Node("Mul", $"{node.Name}_Dequantize", [$"{output}_float", $"{output}_scale"], [output]));
            count++;
        }

        graph.Node.Clear();
        graph.Node.AddRange(nodes);
        // A float weight no other node reads any more leaves the file.
        var stillRead = graph.Node.SelectMany(n => n.Input).ToHashSet(StringComparer.Ordinal);
        foreach (var unused in graph.Initializer.Where(i => replacedWeights.Contains(i.Name) && !stillRead.Contains(i.Name)).ToList())
            graph.Initializer.Remove(unused);
        return count;
    }

    /// <summary>Per output column n: scale = max |W[:, n]| / 63 (1 for an all-zero column), values = round(W / scale).</summary>
    private static (sbyte[] Values, float[] Scales) QuantizeColumns(TensorProto weight)
    {
        int rows = checked((int)weight.Dims[0]), columns = checked((int)weight.Dims[1]);
        float[] w = weight.RawData.Length > 0 ? MemoryMarshal.Cast<byte, float>(weight.RawData.Span).ToArray() : [.. weight.FloatData];
        if (w.Length != rows * columns)
            throw new InvalidDataException($"Weight '{weight.Name}' holds {w.Length} floats for shape [{rows}, {columns}].");
        var scales = new float[columns];
        for (int r = 0; r < rows; r++)
        {
            for (int c = 0; c < columns; c++)
            {
                float value = w[r * columns + c];
                if (!float.IsFinite(value))
                    throw new InvalidDataException($"Weight '{weight.Name}' holds a non-finite value ({value}); the export is damaged.");
                scales[c] = Math.Max(scales[c], Math.Abs(value));
            }
        }

        for (int c = 0; c < columns; c++)
            scales[c] = scales[c] > 0 ? scales[c] / WeightLevels : 1f;
        var values = new sbyte[w.Length];
        for (int r = 0; r < rows; r++)
        {
            for (int c = 0; c < columns; c++)
                values[r * columns + c] = (sbyte)Math.Clamp(MathF.Round(w[r * columns + c] / scales[c]), -WeightLevels, WeightLevels);
        }

        return (values, scales);
    }

    private static NodeProto Node(string opType, string name, string[] inputs, string[] outputs)
    {
        var node = new NodeProto { OpType = opType, Name = name };
        node.Input.AddRange(inputs);
        node.Output.AddRange(outputs);
        return node;
    }

    private static TensorProto Int8Tensor(string name, sbyte[] values, IEnumerable<long> dims)
    {
        var proto = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Int8 };
        proto.Dims.AddRange(dims);
        proto.RawData = ByteString.CopyFrom(MemoryMarshal.AsBytes(values.AsSpan()));
        return proto;
    }

    private static TensorProto FloatTensor(string name, float[] values, IEnumerable<long> dims)
    {
        var proto = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Float };
        proto.Dims.AddRange(dims);
        proto.RawData = ByteString.CopyFrom(MemoryMarshal.AsBytes(values.AsSpan()));
        return proto;
    }
}
