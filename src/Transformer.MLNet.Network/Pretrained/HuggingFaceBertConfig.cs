using System.Text.Json;
using System.Text.Json.Nodes;
using Transformer.MLNet.Network.Configuration;
using Transformer.MLNet.Network.IO;

namespace Transformer.MLNet.Network.Pretrained;

/// <summary>Maps Hugging Face's BERT <c>config.json</c> to and from <see cref="TransformerConfig"/>.</summary>
internal static class HuggingFaceBertConfig
{
    /// <summary>Reads a BERT config.json.</summary>
    /// <param name="path">The file.</param>
    public static TransformerConfig Read(string path)
    {
        if (!File.Exists(path))
            throw new FileNotFoundException($"Model config '{path}' does not exist; a Hugging Face BERT folder holds config.json, model.safetensors and vocab.txt.", path);

        // Hugging Face configs are a few kilobytes; even one with a large id2label map stays far below this.
        const long MaxBytes = 64L << 20;
        long length = new FileInfo(path).Length;
        if (length > MaxBytes)
            throw new InvalidDataException($"'{path}' is {length} bytes, more than the {MaxBytes >> 20} MB a model config.json may have; check that it is the model's config.json.");
        JsonNode? root;
        try
        {
            root = JsonNode.Parse(File.ReadAllText(path), documentOptions: new JsonDocumentOptions { AllowDuplicateProperties = false });
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"'{path}' is not valid JSON: {e.Message}", e);
        }

        var json = root switch
        {
            JsonObject o => o,
            null => throw new InvalidDataException($"'{path}' is empty."),
            _ => throw new InvalidDataException($"'{path}' holds a JSON {root.GetValueKind()}, not the object of settings (\"hidden_size\": ..., ...) a BERT config.json has."),
        };

        T Value<T>(string key, JsonNode node, string what)
        {
            if (node is JsonValue value && value.TryGetValue<T>(out var result))
                return result;
            throw new InvalidDataException($"'{path}': {key} = {node.ToJsonString()} is invalid: must be {what}; fix or remove the entry in config.json.");
        }

        int Int(string key)
        {
            var node = json[key] ?? throw new InvalidDataException($"'{path}' lacks \"{key}\", which a BERT config.json must have.");
            return Value<int>(key, node, "an integer");
        }

        int OptionalInt(string key, int fallback) => json[key] is { } node ? Value<int>(key, node, "an integer") : fallback;
        double Double(string key, double fallback) => json[key] is { } node ? Value<double>(key, node, "a number (not a string)") : fallback;
        string String(string key, string fallback) => json[key] is { } node ? Value<string>(key, node, "a string") : fallback;

        string modelType = String("model_type", "bert");
        if (modelType is not ("bert"))
            throw new InvalidDataException($"'{path}' has model_type \"{modelType}\"; only \"bert\" checkpoints are supported.");
        string act = String("hidden_act", "gelu");
        var activation = act switch
        {
            "gelu" => Activation.Gelu,
            "relu" => Activation.Relu,
            _ => throw new InvalidDataException($"'{path}' has hidden_act \"{act}\"; supported: \"gelu\" (erf form), \"relu\"."),
        };
        string positions = String("position_embedding_type", "absolute");
        if (positions != "absolute")
            throw new InvalidDataException($"'{path}' has position_embedding_type \"{positions}\"; only \"absolute\" is supported.");

        return new TransformerConfig
        {
            Name = String("_name_or_path", "") is { Length: > 0 } n ? n : "bert",
            VocabSize = Int("vocab_size"),
            ModelDim = Int("hidden_size"),
            Heads = Int("num_attention_heads"),
            FeedForwardDim = Int("intermediate_size"),
            EncoderLayers = Int("num_hidden_layers"),
            DecoderLayers = 0,
            Dropout = Double("hidden_dropout_prob", 0.1),
            Activation = activation,
            LayerNormEps = Double("layer_norm_eps", 1e-12),
            PositionalEncoding = PositionalEncodingKind.Learned,
            MaxPositions = Int("max_position_embeddings"),
            TypeVocabSize = OptionalInt("type_vocab_size", 2),
            PadTokenId = OptionalInt("pad_token_id", 0),
            ScaleEmbeddings = false,
            TieEmbeddings = false,
        }.Validate(
            field => $"'{path}': {KeyOf(field)}",
            KeyOf,
            (message, _) => new InvalidDataException(message));
    }

    // The config.json key each validated TransformerConfig property is read from.
    private static string KeyOf(string property) => property switch
    {
        nameof(TransformerConfig.VocabSize) => "vocab_size",
        nameof(TransformerConfig.ModelDim) => "hidden_size",
        nameof(TransformerConfig.Heads) => "num_attention_heads",
        nameof(TransformerConfig.FeedForwardDim) => "intermediate_size",
        nameof(TransformerConfig.EncoderLayers) => "num_hidden_layers",
        nameof(TransformerConfig.Dropout) => "hidden_dropout_prob",
        nameof(TransformerConfig.LayerNormEps) => "layer_norm_eps",
        nameof(TransformerConfig.MaxPositions) => "max_position_embeddings",
        nameof(TransformerConfig.TypeVocabSize) => "type_vocab_size",
        nameof(TransformerConfig.PadTokenId) => "pad_token_id",
        _ => property,
    };

    /// <summary>Writes <paramref name="config"/> as a BERT config.json that transformers' <c>BertModel</c> loads.</summary>
    /// <param name="path">The file.</param>
    /// <param name="config">A BERT-shaped config.</param>
    public static void Write(string path, TransformerConfig config)
    {
        var json = new JsonObject
        {
            ["_name_or_path"] = config.Name,
            ["architectures"] = new JsonArray("BertModel"),
            ["model_type"] = "bert",
            ["vocab_size"] = config.VocabSize,
            ["hidden_size"] = config.ModelDim,
            ["num_hidden_layers"] = config.EncoderLayers,
            ["num_attention_heads"] = config.Heads,
            ["intermediate_size"] = config.FeedForwardDim,
            ["hidden_act"] = config.Activation.ToString().ToLowerInvariant(),
            ["hidden_dropout_prob"] = config.Dropout,
            ["attention_probs_dropout_prob"] = config.Dropout,
            ["max_position_embeddings"] = config.MaxPositions,
            ["type_vocab_size"] = Math.Max(1, config.TypeVocabSize),
            ["layer_norm_eps"] = config.LayerNormEps,
            ["pad_token_id"] = config.PadTokenId,
            ["position_embedding_type"] = "absolute",
            ["torch_dtype"] = "float32",
            ["initializer_range"] = 0.02,
        };
        AtomicFile.WriteAllText(path, json.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
    }
}
