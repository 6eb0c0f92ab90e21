using System.Text;
using System.Text.Json;
using TorchSharp;
using static TorchSharp.torch;
using Transformer.MLNet.Network.Configuration;
using Transformer.MLNet.Network.Tokenization;

namespace Transformer.MLNet.Network.Generation;

/// <summary>
/// The one-stream file of a trained generative model. Layout: the magic string <c>TransformerMLNet.Generative</c>,
/// a format version (int32 = 1), the model kind (string), the <see cref="TransformerConfig"/> as JSON (string),
/// the tokenizer (<see cref="GenerationTokenizer.Save"/>), then the weights in TorchSharp's <c>Module.save</c> format.
/// </summary>
internal static class GenerativeModelFile
{
    private const string Magic = "TransformerMLNet.Generative";
    private const int Version = 1;

    public static void Save(Stream stream, string kind, TransformerConfig config, GenerationTokenizer tokenizer, nn.Module model)
    {
        ArgumentNullException.ThrowIfNull(stream);
        using var writer = new BinaryWriter(stream, Encoding.UTF8, leaveOpen: true);
        writer.Write(Magic);
        writer.Write(Version);
        writer.Write(kind);
        writer.Write(JsonSerializer.Serialize(config));
        tokenizer.Save(writer);
        model.save(writer);
    }

    public static (TransformerConfig Config, GenerationTokenizer Tokenizer) ReadHeader(BinaryReader reader, string expectedKind)
    {
        string magic = reader.ReadString();
        if (magic != Magic)
            throw new InvalidDataException($"Not a generative model file (expected '{Magic}', found '{magic}').");
        int version = reader.ReadInt32();
        if (version != Version)
            throw new InvalidDataException($"Generative model file version {version} is not supported (this library reads version {Version}).");
        string kind = reader.ReadString();
        if (kind != expectedKind)
            throw new InvalidDataException($"The file holds a '{kind}' model, not a '{expectedKind}' one.");
        var config = JsonSerializer.Deserialize<TransformerConfig>(reader.ReadString())
            ?? throw new InvalidDataException("The model file has no configuration.");
        var tokenizer = GenerationTokenizer.Load(reader);
        // The config is JSON inside the file, keyed by property name: name the key, not the C# class.
        config.Validate(field => $"config {field}", field => field, (message, _) => new InvalidDataException(message));
        return (config, tokenizer);
    }
}
