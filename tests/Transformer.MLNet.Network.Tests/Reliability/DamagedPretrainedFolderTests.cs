using System.Buffers.Binary;
using System.Text;
using System.Text.Json.Nodes;
using Transformer.MLNet.Network.Bert;
using Transformer.MLNet.Network.Configuration;
using Transformer.MLNet.Network.Pretrained;
using Transformer.MLNet.Network.Tokenization;

namespace Transformer.MLNet.Network.Tests.Reliability;

/// <summary>
/// A damaged or hostile Hugging Face folder (config.json, model.safetensors, vocab.txt) fails with an
/// <see cref="InvalidDataException"/> naming the file and the offending key or tensor — never a raw runtime exception
/// from the JSON reader or libtorch, and never by allocating the model a config asks for before checking the weights.
/// </summary>
[TestClass]
public sealed class DamagedPretrainedFolderTests
{
    private static readonly string[] Vocabulary = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "a", "cat", "##s", "sat"];

    private static readonly TransformerConfig Tiny = TransformerConfig.MiniLmL6 with
    {
        Name = "tiny", VocabSize = Vocabulary.Length, PadTokenId = 0, ModelDim = 8, Heads = 2, FeedForwardDim = 16, EncoderLayers = 2, MaxPositions = 16,
    };

    private string folder = null!;

    private string ConfigPath => Path.Combine(folder, PretrainedBert.ConfigFileName);

    private string WeightsPath => Path.Combine(folder, PretrainedBert.WeightsFileName);

    private string VocabularyPath => Path.Combine(folder, PretrainedBert.VocabularyFileName);

    [TestInitialize]
    public void WriteTinyFolder()
    {
        folder = Path.Combine(Path.GetTempPath(), $"damaged-bert-{Guid.NewGuid():N}");
        Directory.CreateDirectory(folder);
        using var model = new BertModel(Tiny);
        HuggingFaceBertConfig.Write(ConfigPath, Tiny);
        SafeTensors.Write(WeightsPath, model.state_dict());
        File.WriteAllLines(VocabularyPath, Vocabulary);
    }

    [TestCleanup]
    public void Remove() => Directory.Delete(folder, recursive: true);

    [TestMethod]
    public void The_intact_tiny_folder_loads()
    {
        using var loaded = PretrainedBert.LoadFolder(folder);
        Assert.AreEqual(Tiny with { Name = "" }, loaded.Config with { Name = "" });
    }

    [TestMethod]
    [DataRow(float.NaN)]
    [DataRow(float.PositiveInfinity)]
    public void Weights_holding_a_non_finite_value_fail_naming_the_file_and_the_tensor(float value)
    {
        using (var model = new BertModel(Tiny))
        {
            var weights = model.state_dict();
            using (TorchSharp.torch.no_grad())
                weights["embeddings.word_embeddings.weight"][5, 3] = TorchSharp.torch.tensor(value);
            SafeTensors.Write(WeightsPath, weights);
        }

        var error = Assert.ThrowsExactly<InvalidDataException>(() => PretrainedBert.LoadFolder(folder));
        StringAssert.Contains(error.Message, WeightsPath);
        StringAssert.Contains(error.Message, "'embeddings.word_embeddings.weight' has 1 NaN or infinite of its 80 values (the first at flat index 43)");
    }

    [TestMethod]
    public void Parameter_shapes_computed_from_the_config_are_those_of_the_model()
    {
        using var model = new BertModel(Tiny with { TypeVocabSize = 0 });
        var expected = model.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.shape);
        var computed = BertModel.ParameterShapes(Tiny with { TypeVocabSize = 0 });
        CollectionAssert.AreEquivalent(expected.Keys.ToList(), computed.Keys.ToList());
        foreach (var (name, shape) in expected)
            CollectionAssert.AreEqual(shape, computed[name], name);
    }

    [TestMethod]
    [DataRow("num_hidden_layers", "100000", "between 0 and 1024")]
    [DataRow("hidden_size", "1048576", "between 1 and 65536")]
    [DataRow("intermediate_size", "100000000", "between 1 and 1048576")]
    [DataRow("max_position_embeddings", "2147483647", "between 1 and 1048576")]
    [DataRow("vocab_size", "1073741824", "between 1 and 16777216")]
    [DataRow("type_vocab_size", "1000000", "between 0 and 65536")]
    public void Sizes_beyond_the_limits_fail_naming_config_json_the_key_and_the_limit(string key, string value, string limit)
    {
        EditConfig(json =>
        {
            json[key] = JsonNode.Parse(value);
            if (key == "hidden_size")
                json["num_attention_heads"] = 1;
        });

        var error = Assert.ThrowsExactly<InvalidDataException>(() => PretrainedBert.LoadFolder(folder));
        StringAssert.Contains(error.Message, $"'{ConfigPath}': {key} = {value} is invalid: must be {limit}");
    }

    [TestMethod]
    public void The_public_config_check_has_the_same_limits()
    {
        var error = Assert.ThrowsExactly<ArgumentException>(() => (Tiny with { EncoderLayers = 100_000 }).Validate());
        Assert.AreEqual(nameof(TransformerConfig.EncoderLayers), error.ParamName);
        StringAssert.Contains(error.Message, "TransformerConfig.EncoderLayers = 100000 is invalid: must be between 0 and 1024");
    }

    [TestMethod]
    [DataRow("num_hidden_layers", "1000", "num_hidden_layers = 1000 but the weights have 2 layers (encoder.layer.0 to encoder.layer.1)")]
    [DataRow("num_hidden_layers", "0", "num_hidden_layers = 0 but the weights have 2 layers")]
    [DataRow("hidden_size", "4096", "hidden_size = 4096 but embeddings.word_embeddings.weight has shape [10, 8]")]
    [DataRow("intermediate_size", "1048576", "intermediate_size = 1048576 but encoder.layer.0.intermediate.dense.weight has shape [16, 8]")]
    [DataRow("max_position_embeddings", "1048576", "max_position_embeddings = 1048576 but embeddings.position_embeddings.weight has shape [16, 8]")]
    [DataRow("type_vocab_size", "3", "type_vocab_size = 3 but embeddings.token_type_embeddings.weight has shape [2, 8]")]
    public void A_config_that_does_not_describe_the_weights_fails_on_the_header_naming_both_files(string key, string value, string mismatch)
    {
        // Each would allocate a model far larger than the weights (up to gigabytes) if built before the check.
        EditConfig(json => json[key] = JsonNode.Parse(value));

        var error = Assert.ThrowsExactly<InvalidDataException>(() => PretrainedBert.LoadFolder(folder));
        StringAssert.Contains(error.Message, $"'{ConfigPath}' does not describe the weights in '{WeightsPath}'");
        StringAssert.Contains(error.Message, mismatch);
    }

    [TestMethod]
    public void Weights_lacking_a_tensor_fail_on_the_header_naming_both_files()
    {
        var header = JsonNode.Parse(ReadHeader(WeightsPath))!.AsObject();
        header.Remove("pooler.dense.bias");
        RewriteHeader(WeightsPath, header.ToJsonString());

        var error = Assert.ThrowsExactly<InvalidDataException>(() => PretrainedBert.LoadFolder(folder));
        StringAssert.Contains(error.Message, $"The weights from '{WeightsPath}' do not fit the model");
        StringAssert.Contains(error.Message, "1 missing: pooler.dense.bias");
        StringAssert.Contains(error.Message, $"that '{ConfigPath}' matches it");
    }

    [TestMethod]
    [DataRow("[1, 2]", "holds a JSON Array")]
    [DataRow("{\"hidden_size\": 8, \"hidden_size\": 9}", "is not valid JSON")]
    [DataRow("{oops", "is not valid JSON")]
    public void A_config_json_that_is_not_a_json_object_fails_naming_the_file(string text, string problem)
    {
        File.WriteAllText(ConfigPath, text);
        var error = Assert.ThrowsExactly<InvalidDataException>(() => PretrainedBert.LoadFolder(folder));
        StringAssert.Contains(error.Message, $"'{ConfigPath}' {problem}");
    }

    [TestMethod]
    [DataRow("hidden_dropout_prob", "\"0.1\"", "a number (not a string)")]
    [DataRow("layer_norm_eps", "[1e-12]", "a number (not a string)")]
    [DataRow("model_type", "5", "a string")]
    [DataRow("hidden_act", "{\"name\": \"gelu\"}", "a string")]
    [DataRow("_name_or_path", "false", "a string")]
    [DataRow("type_vocab_size", "\"two\"", "an integer")]
    [DataRow("pad_token_id", "0.5", "an integer")]
    [DataRow("hidden_size", "\"8\"", "an integer")]
    [DataRow("num_hidden_layers", "1e30", "an integer")]
    public void A_config_value_of_the_wrong_type_fails_naming_the_file_and_the_key(string key, string value, string type)
    {
        EditConfig(json => json[key] = JsonNode.Parse(value));
        var error = Assert.ThrowsExactly<InvalidDataException>(() => PretrainedBert.LoadFolder(folder));
        StringAssert.Contains(error.Message, $"'{ConfigPath}': {key} = {JsonNode.Parse(value)!.ToJsonString()} is invalid: must be {type}");
    }

    [TestMethod]
    [DataRow("{\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,9223372036854775807]}}", "'x'", "outside the file")]
    [DataRow("{\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[9223372036854775799,9223372036854775807]}}", "'x'", "outside the file")]
    [DataRow("{\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[-4,0]}}", "'x'", "data_offsets [-4,0]")]
    [DataRow("{\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}}", "'x'", "data_offsets [0]")]
    [DataRow("{\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[\"0\",\"4\"]}}", "'x'", "data_offsets [\"0\",\"4\"]")]
    [DataRow("{\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0.5,4]}}", "'x'", "data_offsets [0.5,4]")]
    [DataRow("{\"x\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", "'x'", "shape missing or null")]
    [DataRow("{\"x\":{\"dtype\":\"F32\",\"shape\":4,\"data_offsets\":[0,4]}}", "'x'", "shape 4")]
    [DataRow("{\"x\":{\"dtype\":\"F32\",\"shape\":[-1,-4],\"data_offsets\":[0,16]}}", "'x'", "shape [-1,-4]")]
    [DataRow("{\"x\":{\"dtype\":5,\"shape\":[1],\"data_offsets\":[0,4]}}", "'x'", "dtype 5")]
    [DataRow("{\"x\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[0,8]}}", "'x'", "only F32, F16 and BF16")]
    [DataRow("{\"x\":{\"dtype\":\"F32\",\"shape\":[2147483648,2147483648],\"data_offsets\":[0,0]}}", "'x'", "more elements than any file can hold")]
    [DataRow("{\"x\":{\"dtype\":\"F32\",\"shape\":[4611686018427387904],\"data_offsets\":[0,0]}}", "'x'", "more elements than any file can hold")]
    [DataRow("{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}}", "'x'", "has 4 bytes for shape [2] of F32, which needs 8")]
    [DataRow("{\"x\":42}", "'x'", "is 42, not an object")]
    [DataRow("{\"x\":null}", "'x'", "is missing or null, not an object")]
    [DataRow("{\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", "'x'", "not valid JSON")]
    [DataRow("[1,2,3]", "", "a JSON Array, not an object")]
    [DataRow("{not json", "", "not valid JSON")]
    [DataRow("null", "", "empty safetensors header")]
    public void A_damaged_safetensors_header_fails_naming_the_file_and_the_tensor(string header, string tensor, string problem)
    {
        WriteSafetensors(WeightsPath, header, dataBytes: 4);
        foreach (var read in new Action[] { () => SafeTensors.Read(WeightsPath), () => SafeTensors.ReadShapes(WeightsPath), () => PretrainedBert.LoadFolder(folder) })
        {
            var error = Assert.ThrowsExactly<InvalidDataException>(read);
            StringAssert.Contains(error.Message, WeightsPath);
            StringAssert.Contains(error.Message, tensor);
            StringAssert.Contains(error.Message, problem);
        }
    }

    [TestMethod]
    public void A_header_over_the_format_limit_fails_without_being_read()
    {
        // The declared length is within the (sparse) file but over the 100 MB the format allows.
        using (var file = File.Create(WeightsPath))
        {
            Span<byte> length = stackalloc byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(length, 200_000_000);
            file.Write(length);
            file.SetLength(8 + 200_000_000);
        }

        var error = Assert.ThrowsExactly<InvalidDataException>(() => SafeTensors.ReadShapes(WeightsPath));
        StringAssert.Contains(error.Message, $"'{WeightsPath}' declares a 200000000-byte header, over the 100000000 bytes");
    }

    [TestMethod]
    public void A_vocabulary_that_is_empty_or_lacks_a_special_token_fails_naming_the_file()
    {
        File.WriteAllText(VocabularyPath, "\n");
        var empty = Assert.ThrowsExactly<InvalidDataException>(() => PretrainedBert.LoadFolder(folder));
        StringAssert.Contains(empty.Message, $"The BERT vocabulary '{VocabularyPath}' is empty");

        File.WriteAllLines(VocabularyPath, Vocabulary.Where(t => t != "[UNK]"));
        var noUnknown = Assert.ThrowsExactly<InvalidDataException>(() => PretrainedBert.LoadFolder(folder));
        StringAssert.Contains(noUnknown.Message, $"The BERT vocabulary '{VocabularyPath}' (9 lines) has no '[UNK]' line");

        File.WriteAllLines(VocabularyPath, Vocabulary.Append("dog"));
        var extra = Assert.ThrowsExactly<InvalidDataException>(() => PretrainedBert.LoadFolder(folder));
        StringAssert.Contains(extra.Message, $"'{VocabularyPath}' has 11 tokens but '{ConfigPath}' says vocab_size = 10");
    }

    private void EditConfig(Action<JsonObject> edit)
    {
        var json = JsonNode.Parse(File.ReadAllText(ConfigPath))!.AsObject();
        edit(json);
        File.WriteAllText(ConfigPath, json.ToJsonString());
    }

    private static void WriteSafetensors(string path, string header, int dataBytes)
    {
        var json = Encoding.UTF8.GetBytes(header);
        var bytes = new byte[8 + json.Length + dataBytes];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, (ulong)json.Length);
        json.CopyTo(bytes, 8);
        File.WriteAllBytes(path, bytes);
    }

    private static string ReadHeader(string path)
    {
        var bytes = File.ReadAllBytes(path);
        return Encoding.UTF8.GetString(bytes, 8, (int)BinaryPrimitives.ReadUInt64LittleEndian(bytes));
    }

    // Replaces the header, keeping the data section (offsets are relative to it).
    private static void RewriteHeader(string path, string header)
    {
        var bytes = File.ReadAllBytes(path);
        int dataStart = 8 + (int)BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        var json = Encoding.UTF8.GetBytes(header);
        var rewritten = new byte[8 + json.Length + bytes.Length - dataStart];
        BinaryPrimitives.WriteUInt64LittleEndian(rewritten, (ulong)json.Length);
        json.CopyTo(rewritten, 8);
        bytes.AsSpan(dataStart).CopyTo(rewritten.AsSpan(8 + json.Length));
        File.WriteAllBytes(path, rewritten);
    }
}
