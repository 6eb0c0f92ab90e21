using System.Buffers.Binary;
using System.Text.Json;
using Transformer.MLNet.Network.Pretrained;
using static TorchSharp.torch;

namespace Transformer.MLNet.Network.Tests.Pretrained;

[TestClass]
public sealed class SafeTensorsTests
{
    [TestMethod]
    public void A_file_larger_than_2_GB_is_read_tensor_by_tensor()
    {
        // A sparse file: its tensor data starts past 2^31 bytes, which a reader holding the whole file in one array
        // cannot reach. Only the tensors' own bytes are read.
        string path = Path.GetTempFileName();
        try
        {
            const long far = (1L << 31) + 4096;
            void WriteSparse(string json)
            {
                var header = System.Text.Encoding.UTF8.GetBytes(json);
                using var file = new FileStream(path, FileMode.Create, FileAccess.Write);
                Span<byte> prefix = stackalloc byte[8];
                BinaryPrimitives.WriteUInt64LittleEndian(prefix, (ulong)header.Length);
                file.Write(prefix);
                file.Write(header);
                file.SetLength(8 + header.Length + far + 16);
                file.Position = 8 + header.Length + far;
                Span<byte> four = stackalloc byte[4];
                foreach (float value in new[] { 1.5f, -2f, 3.25f, 0f })
                {
                    BinaryPrimitives.WriteSingleLittleEndian(four, value);
                    file.Write(four);
                }
            }

            WriteSparse($$$"""{"far.weight":{"dtype":"F32","shape":[2,2],"data_offsets":[{{{far}}},{{{far + 16}}}]}}""");
            CollectionAssert.AreEqual(new long[] { 2, 2 }, SafeTensors.ReadShapes(path)["far.weight"]);
            var tensors = SafeTensors.Read(path);
            using (var weight = tensors["far.weight"])
                CollectionAssert.AreEqual(new[] { 1.5f, -2f, 3.25f, 0f }, weight.data<float>().ToArray());

            // A single tensor too large for one .NET array is named, not a crash.
            WriteSparse($$$"""{"huge":{"dtype":"F32","shape":[{{{far / 4}}}],"data_offsets":[0,{{{far}}}]}}""");
            var error = Assert.ThrowsExactly<InvalidDataException>(() => SafeTensors.Read(path));
            StringAssert.Contains(error.Message, "'huge'");
            StringAssert.Contains(error.Message, path);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [TestMethod]
    public void Written_files_satisfy_the_format_rules_that_the_reference_reader_validates()
    {
        // The reference reader (huggingface/safetensors) requires: u64 little-endian header size, a JSON object header,
        // and data_offsets that tile the data section exactly, without gaps or overlaps.
        string path = Path.GetTempFileName();
        try
        {
            using var scope = NewDisposeScope();
            var tensors = new Dictionary<string, Tensor>
            {
                ["b.weight"] = arange(6, ScalarType.Float32).reshape(2, 3),
                ["a.bias"] = tensor(new[] { 1.5f, -2f, 3.25f }),
                ["c.scalar_like"] = tensor(new[] { 7f }),
            };
            SafeTensors.Write(path, tensors);

            var bytes = File.ReadAllBytes(path);
            long headerSize = (long)BinaryPrimitives.ReadUInt64LittleEndian(bytes);
            Assert.AreEqual(0, (8 + headerSize) % 8, "data section should start 8-byte aligned");
            Assert.AreEqual((byte)'{', bytes[8]);
            using var header = JsonDocument.Parse(bytes.AsMemory(8, (int)headerSize));
            var spans = header.RootElement.EnumerateObject().Where(p => p.Name != "__metadata__")
                .Select(p => (p.Name, Begin: p.Value.GetProperty("data_offsets")[0].GetInt64(), End: p.Value.GetProperty("data_offsets")[1].GetInt64(),
                    Dtype: p.Value.GetProperty("dtype").GetString()))
                .OrderBy(s => s.Begin).ToList();
            Assert.HasCount(3, spans);
            Assert.AreEqual(0L, spans[0].Begin);
            for (int i = 1; i < spans.Count; i++)
                Assert.AreEqual(spans[i - 1].End, spans[i].Begin, "offsets must tile the data section");
            Assert.AreEqual(bytes.Length - 8 - headerSize, spans[^1].End);
            Assert.IsTrue(spans.All(s => s.Dtype == "F32"));

            var read = SafeTensors.Read(path);
            foreach (var (name, expected) in tensors)
            {
                using var actual = read[name];
                CollectionAssert.AreEqual(expected.shape, actual.shape, name);
                CollectionAssert.AreEqual(expected.data<float>().ToArray(), actual.data<float>().ToArray(), name);
            }
        }
        finally
        {
            File.Delete(path);
        }
    }

    [TestMethod]
    public void Reads_bfloat16_and_float16_tensors_as_float32()
    {
        string path = Path.GetTempFileName();
        try
        {
            // 1.5 in bfloat16 = 0x3FC0, -2 = 0xC000; in float16 1.5 = 0x3E00, -2 = 0xC000.
            var header = """{"x":{"dtype":"BF16","shape":[2],"data_offsets":[0,4]},"y":{"dtype":"F16","shape":[2],"data_offsets":[4,8]}}"""u8.ToArray();
            using (var file = File.Create(path))
            {
                var size = new byte[8];
                BinaryPrimitives.WriteUInt64LittleEndian(size, (ulong)header.Length);
                file.Write(size);
                file.Write(header);
                file.Write(new byte[] { 0xC0, 0x3F, 0x00, 0xC0, 0x00, 0x3E, 0x00, 0xC0 });
            }

            var read = SafeTensors.Read(path);
            CollectionAssert.AreEqual(new[] { 1.5f, -2f }, read["x"].data<float>().ToArray());
            CollectionAssert.AreEqual(new[] { 1.5f, -2f }, read["y"].data<float>().ToArray());
            foreach (var t in read.Values)
                t.Dispose();

            File.WriteAllBytes(path, new byte[] { 255, 0, 0, 0, 0, 0, 0, 0, (byte)'{' });
            var truncated = Assert.ThrowsExactly<InvalidDataException>(() => SafeTensors.Read(path));
            StringAssert.Contains(truncated.Message, "truncated");
        }
        finally
        {
            File.Delete(path);
        }
    }
}
