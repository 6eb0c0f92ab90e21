using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Transformer.MLNet.Network.IO;
using static TorchSharp.torch;

namespace Transformer.MLNet.Network.Pretrained;

/// <summary>
/// The safetensors format (huggingface/safetensors): an 8-byte little-endian header length N, N bytes of UTF-8 JSON
/// mapping each tensor name to <c>{"dtype", "shape", "data_offsets": [begin, end]}</c> (offsets relative to the end
/// of the header, plus an optional <c>"__metadata__"</c> string map), then the raw little-endian tensor bytes.
/// </summary>
internal static class SafeTensors
{
    /// <summary>Writes float32 tensors in name order.</summary>
    /// <param name="path">Destination file, replaced only once the new one is complete.</param>
    /// <param name="tensors">Tensors by name; copied to CPU float32.</param>
    public static void Write(string path, IReadOnlyDictionary<string, Tensor> tensors)
    {
        var names = tensors.Keys.Order(StringComparer.Ordinal).ToList();
        var header = new JsonObject { ["__metadata__"] = new JsonObject { ["format"] = "pt" } };
        var blobs = new List<byte[]>();
        long offset = 0;
        foreach (var name in names)
        {
            using var scope = NewDisposeScope();
            var t = tensors[name].detach().to(ScalarType.Float32, CPU).contiguous();
            var bytes = MemoryMarshal.AsBytes(t.data<float>().ToArray().AsSpan()).ToArray();
            header[name] = new JsonObject
            {
                ["dtype"] = "F32",
                ["shape"] = new JsonArray(t.shape.Select(d => (JsonNode)d).ToArray()),
                ["data_offsets"] = new JsonArray(offset, offset + bytes.Length),
            };
            blobs.Add(bytes);
            offset += bytes.Length;
        }

        var json = Encoding.UTF8.GetBytes(header.ToJsonString());
        int padding = (8 - json.Length % 8) % 8; // the format allows trailing spaces; aligned data helps readers that map the file
        AtomicFile.Write(path, file =>
        {
            Span<byte> length = stackalloc byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(length, (ulong)(json.Length + padding));
            file.Write(length);
            file.Write(json);
            for (int i = 0; i < padding; i++)
                file.WriteByte((byte)' ');
            foreach (var blob in blobs)
                file.Write(blob);
        });
    }

    /// <summary>Reads every tensor as float32 on the CPU (F32, F16 and BF16 are accepted).</summary>
    /// <param name="path">A .safetensors file.</param>
    /// <returns>Tensors by name; the caller owns them.</returns>
    public static Dictionary<string, Tensor> Read(string path)
    {
        if (!File.Exists(path))
            throw new FileNotFoundException($"Safetensors file '{path}' does not exist.", path);
        var bytes = File.ReadAllBytes(path);
        if (bytes.Length < 8)
            throw new InvalidDataException($"'{path}' is too short to be a safetensors file.");
        ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        if (headerLength > (ulong)(bytes.Length - 8))
            throw new InvalidDataException($"'{path}' declares a {headerLength}-byte header but has {bytes.Length} bytes; the file is truncated or not safetensors.");
        int dataStart = 8 + (int)headerLength;
        var header = JsonNode.Parse(bytes.AsSpan(8, (int)headerLength))?.AsObject()
            ?? throw new InvalidDataException($"'{path}' has an empty safetensors header.");

        // TorchSharp's tensor() leaves an intermediate wrapper behind; the scope releases it here, on this thread.
        using var scope = NewDisposeScope();
        var result = new Dictionary<string, Tensor>();
        foreach (var (name, node) in header)
        {
            if (name == "__metadata__" || node is null)
                continue;
            string dtype = node["dtype"]?.GetValue<string>() ?? "";
            long[] shape = node["shape"]!.AsArray().Select(d => d!.GetValue<long>()).ToArray();
            var offsets = node["data_offsets"]!.AsArray();
            long begin = offsets[0]!.GetValue<long>(), end = offsets[1]!.GetValue<long>();
            if (begin < 0 || end < begin || dataStart + end > bytes.Length)
                throw new InvalidDataException($"Tensor '{name}' in '{path}' has data offsets [{begin}, {end}] outside the file.");
            var data = bytes.AsSpan(dataStart + (int)begin, (int)(end - begin));
            result.Add(name, Decode(name, dtype, shape, data, path));
        }

        foreach (var t in result.Values)
            t.DetachFromDisposeScope();
        return result;
    }

    private static Tensor Decode(string name, string dtype, long[] shape, ReadOnlySpan<byte> data, string path)
    {
        long count = shape.Aggregate(1L, (a, b) => a * b);
        int width = dtype switch { "F32" => 4, "F16" or "BF16" => 2, _ => 0 };
        if (width == 0)
            throw new InvalidDataException($"Tensor '{name}' in '{path}' has dtype {dtype}; only F32, F16 and BF16 are supported.");
        if (data.Length != count * width)
            throw new InvalidDataException($"Tensor '{name}' in '{path}' has {data.Length} bytes for shape [{string.Join(", ", shape)}] of {dtype}.");

        var values = new float[count];
        switch (dtype)
        {
            case "F32":
                MemoryMarshal.Cast<byte, float>(data).CopyTo(values);
                break;
            case "F16":
                var halves = MemoryMarshal.Cast<byte, Half>(data);
                for (int i = 0; i < values.Length; i++)
                    values[i] = (float)halves[i];
                break;
            default: // BF16: the high 16 bits of a float32
                var raw = MemoryMarshal.Cast<byte, ushort>(data);
                for (int i = 0; i < values.Length; i++)
                    values[i] = BitConverter.Int32BitsToSingle(raw[i] << 16);
                break;
        }

        return tensor(values, shape);
    }
}
