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
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">The file is damaged: the message names it and the offending tensor.</exception>
    public static Dictionary<string, Tensor> Read(string path)
    {
        RequireFile(path);
        // Tensor by tensor from the file, never the whole file at once: files over 2 GB load, and the peak memory is the
        // tensors plus one tensor's bytes.
        using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        var (entries, dataStart) = ReadHeader(path, file);

        // TorchSharp's tensor() leaves an intermediate wrapper behind; the scope releases it here, on this thread.
        using var scope = NewDisposeScope();
        var result = new Dictionary<string, Tensor>();
        foreach (var (name, entry) in entries)
        {
            // ParseHeader checked that the offsets lie inside the data section.
            long length = entry.End - entry.Begin;
            if (length > Array.MaxLength)
                throw new InvalidDataException($"Tensor '{name}' in '{path}' has {length} bytes; tensors of more than {Array.MaxLength} bytes are not supported.");
            var data = new byte[length];
            file.Position = dataStart + entry.Begin;
            file.ReadExactly(data);
            result.Add(name, Decode(entry.Dtype, entry.Shape, data));
        }

        foreach (var t in result.Values)
            t.DetachFromDisposeScope();
        return result;
    }

    /// <summary>
    /// Reads only the header: each tensor's shape, checked as <see cref="Read"/> checks it, without reading the data.
    /// Lets a loader compare the weights with a config before allocating a model for them.
    /// </summary>
    /// <param name="path">A .safetensors file.</param>
    /// <returns>Shapes by tensor name.</returns>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">The header is damaged: the message names the file and the offending tensor.</exception>
    public static Dictionary<string, long[]> ReadShapes(string path)
    {
        RequireFile(path);
        using var file = File.OpenRead(path);
        return ReadHeader(path, file).Entries.ToDictionary(kv => kv.Key, kv => kv.Value.Shape);
    }

    // Reads and checks the 8-byte length and the JSON header; returns the entries and where the data section starts.
    private static (Dictionary<string, Entry> Entries, long DataStart) ReadHeader(string path, FileStream file)
    {
        Span<byte> prefix = stackalloc byte[8];
        if (file.ReadAtLeast(prefix, 8, throwOnEndOfStream: false) < 8)
            throw new InvalidDataException($"'{path}' is too short to be a safetensors file.");
        int headerLength = CheckHeaderLength(path, BinaryPrimitives.ReadUInt64LittleEndian(prefix), file.Length);
        var header = new byte[headerLength];
        file.ReadExactly(header);
        return (ParseHeader(path, header, file.Length - 8 - headerLength), 8 + headerLength);
    }

    // One tensor of the header: its dtype, its shape and where its bytes lie in the data section.
    private readonly record struct Entry(string Dtype, long[] Shape, long Begin, long End);

    // The reference implementation (huggingface/safetensors) refuses headers over 100 MB; so does this reader, rather
    // than parse an arbitrarily large JSON document.
    private const long MaxHeaderBytes = 100_000_000;

    private static void RequireFile(string path)
    {
        if (!File.Exists(path))
            throw new FileNotFoundException($"Safetensors file '{path}' does not exist.", path);
    }

    private static int CheckHeaderLength(string path, ulong headerLength, long fileLength)
    {
        if (headerLength > (ulong)(fileLength - 8))
            throw new InvalidDataException($"'{path}' declares a {headerLength}-byte header but has {fileLength} bytes; the file is truncated or not safetensors.");
        if (headerLength > MaxHeaderBytes)
            throw new InvalidDataException($"'{path}' declares a {headerLength}-byte header, over the {MaxHeaderBytes} bytes the safetensors format allows; the file is damaged or not safetensors.");
        return (int)headerLength;
    }

    // Parses and checks the JSON header: every tensor has a supported dtype, a shape of non-negative integers, and
    // data_offsets [begin, end] inside the data section spanning exactly the bytes its shape and dtype need.
    private static Dictionary<string, Entry> ParseHeader(string path, ReadOnlySpan<byte> json, long dataLength)
    {
        JsonNode? root;
        try
        {
            root = JsonNode.Parse(json, documentOptions: new JsonDocumentOptions { AllowDuplicateProperties = false });
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"'{path}' has a safetensors header that is not valid JSON ({e.Message}); the file is damaged or not safetensors.", e);
        }

        if (root is not JsonObject header)
        {
            throw new InvalidDataException(root is null
                ? $"'{path}' has an empty safetensors header."
                : $"'{path}' has a safetensors header that is a JSON {root.GetValueKind()}, not an object mapping tensor names to {{\"dtype\", \"shape\", \"data_offsets\"}}; the file is damaged or not safetensors.");
        }

        var entries = new Dictionary<string, Entry>(StringComparer.Ordinal);
        foreach (var (name, node) in header)
        {
            if (name == "__metadata__")
                continue;
            InvalidDataException Bad(string problem) =>
                new($"Tensor '{name}' in '{path}' {problem}; the file is damaged or was not written as safetensors.");

            if (node is not JsonObject tensor)
                throw Bad($"is {Show(node)}, not an object {{\"dtype\", \"shape\", \"data_offsets\"}}");
            if (tensor["dtype"] is not JsonValue dtypeNode || !dtypeNode.TryGetValue<string>(out var dtype))
                throw Bad($"has dtype {Show(tensor["dtype"])}: it must be a string such as \"F32\"");
            int width = dtype switch { "F32" => 4, "F16" or "BF16" => 2, _ => 0 };
            if (width == 0)
                throw new InvalidDataException($"Tensor '{name}' in '{path}' has dtype {dtype}; only F32, F16 and BF16 are supported.");
            if (Integers(tensor["shape"]) is not { } shape || shape.Any(d => d < 0))
                throw Bad($"has shape {Show(tensor["shape"])}: it must be an array of non-negative integers");
            if (Integers(tensor["data_offsets"]) is not [var begin, var end] || begin < 0 || end < begin)
                throw Bad($"has data_offsets {Show(tensor["data_offsets"])}: they must be two integers [begin, end] with 0 <= begin <= end");
            if (end > dataLength)
                throw Bad($"has data offsets [{begin}, {end}] outside the file's {dataLength} bytes of tensor data (the file may be truncated)");

            long bytes;
            try
            {
                bytes = shape.Contains(0) ? 0 : checked(shape.Aggregate(1L, (a, b) => checked(a * b)) * width);
            }
            catch (OverflowException)
            {
                throw Bad($"has shape [{string.Join(", ", shape)}], more elements than any file can hold");
            }

            if (bytes != end - begin)
                throw new InvalidDataException($"Tensor '{name}' in '{path}' has {end - begin} bytes for shape [{string.Join(", ", shape)}] of {dtype}, which needs {bytes}.");
            entries.Add(name, new Entry(dtype, shape, begin, end));
        }

        return entries;
    }

    // The integers of a JSON array, or null if the node is anything else or holds anything else.
    private static long[]? Integers(JsonNode? node)
    {
        if (node is not JsonArray array)
            return null;
        var values = new long[array.Count];
        for (int i = 0; i < values.Length; i++)
        {
            if (array[i] is not JsonValue value || !value.TryGetValue(out values[i]))
                return null;
        }

        return values;
    }

    // A JSON value for a message, cut short if long.
    private static string Show(JsonNode? node)
    {
        string text = node?.ToJsonString() ?? "missing or null";
        return text.Length <= 80 ? text : text[..80] + "...";
    }

    private static Tensor Decode(string dtype, long[] shape, ReadOnlySpan<byte> data)
    {
        var values = new float[data.Length / (dtype == "F32" ? 4 : 2)];
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
