using Google.Protobuf;
using Onnx;
using static TorchSharp.torch;

namespace Transformer.MLNet.Network.Export;

/// <summary>
/// Builds one ONNX graph node by node: every node gets a fresh output name, weights become float32 initializers and
/// small constants int64 or float32 initializers. Written against the ONNX operator specification
/// (onnx.ai/onnx/operators) for the default domain at <see cref="Opset"/>.
/// </summary>
internal sealed class OnnxGraphWriter
{
    /// <summary>17: the first default-domain opset with <c>LayerNormalization</c>.</summary>
    public const int Opset = 17;

    /// <summary>IR version 8 is the one that opset 17 was released with (ONNX 1.12).</summary>
    private const long IrVersion = 8;

    private readonly GraphProto _graph = new() { Name = "transformer_mlnet" };
    private int _next;

    /// <summary>Adds a node and returns the name of its (first) output.</summary>
    public string Node(string opType, IReadOnlyList<string> inputs, params AttributeProto[] attributes)
    {
        string output = $"{opType}_{_next++}";
        var node = new NodeProto { OpType = opType, Name = output };
        node.Input.AddRange(inputs);
        node.Output.Add(output);
        node.Attribute.AddRange(attributes);
        _graph.Node.Add(node);
        return output;
    }

    /// <summary>Renames a value into a graph output of that name (an <c>Identity</c> node) with a symbolic shape.</summary>
    public void Output(string value, string name, params string[] dims)
    {
        var node = new NodeProto { OpType = "Identity", Name = $"output_{name}" };
        node.Input.Add(value);
        node.Output.Add(name);
        _graph.Node.Add(node);
        _graph.Output.Add(ValueInfo(name, TensorProto.Types.DataType.Float, dims));
    }

    /// <summary>Declares a graph input of int64 values with a symbolic or fixed shape.</summary>
    public string Int64Input(string name, params string[] dims)
    {
        _graph.Input.Add(ValueInfo(name, TensorProto.Types.DataType.Int64, dims));
        return name;
    }

    /// <summary>A float32 initializer holding a copy of <paramref name="value"/> (any dtype, any device).</summary>
    public string Weight(string name, Tensor value)
    {
        using var scope = NewDisposeScope();
        var host = value.detach().to(CPU).to_type(ScalarType.Float32).contiguous();
        var proto = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Float };
        proto.Dims.AddRange(host.shape);
        proto.RawData = ByteString.CopyFrom(System.Runtime.InteropServices.MemoryMarshal.AsBytes<float>(host.data<float>().ToArray()));
        _graph.Initializer.Add(proto);
        return name;
    }

    /// <summary>A 1-D int64 constant (shapes, axes, indices).</summary>
    public string Int64s(params long[] values) =>
        Constant("const_i64", TensorProto.Types.DataType.Int64, System.Runtime.InteropServices.MemoryMarshal.AsBytes(values.AsSpan()), values.Length);

    /// <summary>A scalar (0-D) int64 constant.</summary>
    public string Int64Scalar(long value) => Constant("const_i64", TensorProto.Types.DataType.Int64, BitConverter.GetBytes(value), null);

    /// <summary>A scalar (0-D) float32 constant, broadcast by the element-wise operators.</summary>
    public string Float(float value) => Constant("const_f32", TensorProto.Types.DataType.Float, BitConverter.GetBytes(value), null);

    public static AttributeProto Int(string name, long value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = value };

    public static AttributeProto Ints(string name, params long[] values)
    {
        var attribute = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Ints };
        attribute.Ints.AddRange(values);
        return attribute;
    }

    public static AttributeProto FloatAttribute(string name, float value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.Float, F = value };

    /// <summary>The finished model.</summary>
    public ModelProto ToModel(string producerVersion, IReadOnlyDictionary<string, string> metadata)
    {
        var model = new ModelProto
        {
            IrVersion = IrVersion,
            ProducerName = "Transformer.MLNet",
            ProducerVersion = producerVersion,
            Graph = _graph,
        };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = string.Empty, Version = Opset });
        foreach (var (key, value) in metadata)
            model.MetadataProps.Add(new StringStringEntryProto { Key = key, Value = value });
        return model;
    }

    // An initializer under a fresh name; a 1-D tensor of `length` values, or a scalar when null.
    private string Constant(string prefix, TensorProto.Types.DataType type, ReadOnlySpan<byte> bytes, int? length)
    {
        string name = $"{prefix}_{_next++}";
        var proto = new TensorProto { Name = name, DataType = (int)type, RawData = ByteString.CopyFrom(bytes) };
        if (length is { } count)
            proto.Dims.Add(count);
        _graph.Initializer.Add(proto);
        return name;
    }

    private static ValueInfoProto ValueInfo(string name, TensorProto.Types.DataType type, string[] dims)
    {
        var shape = new TensorShapeProto();
        foreach (string dim in dims)
        {
            shape.Dim.Add(long.TryParse(dim, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out long size)
                ? new TensorShapeProto.Types.Dimension { DimValue = size }
                : new TensorShapeProto.Types.Dimension { DimParam = dim });
        }

        return new ValueInfoProto
        {
            Name = name,
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)type, Shape = shape } },
        };
    }
}
