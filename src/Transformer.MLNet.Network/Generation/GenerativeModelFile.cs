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
        var config = ReadConfig(reader.ReadString());
        var tokenizer = GenerationTokenizer.Load(reader);
        // The config is JSON inside the file, keyed by property name: name the key, not the C# class.
        config.Validate(field => $"config {field}", field => field, (message, _) => new InvalidDataException(message));
        if (config.VocabSize != tokenizer.VocabSize)
        {
            throw new InvalidDataException(
                $"config VocabSize = {config.VocabSize} does not match the saved tokenizer's {tokenizer.VocabSize} ids; the file is damaged.");
        }

        CheckWeightsFit(reader.BaseStream, config, kind);
        return (config, tokenizer);
    }

    /// <summary>
    /// Refuses a config whose model the rest of a seekable stream cannot hold, before the network is built: a damaged
    /// config (within its limits) could otherwise allocate gigabytes for weights that are not there. The bound is low
    /// on purpose: <see cref="TransformerConfig.MinimumParameters"/> at two bytes each (bfloat16; float32 takes four).
    /// </summary>
    private static void CheckWeightsFit(Stream stream, TransformerConfig config, string kind)
    {
        if (!stream.CanSeek)
            return;
        // A decoder-only model builds its decoder layers only; an encoder-decoder both stacks.
        int layers = kind == "decoder-only" ? config.DecoderLayers : config.EncoderLayers + config.DecoderLayers;
        double parameters = config.MinimumParameters(layers);
        long remaining = stream.Length - stream.Position;
        if (2 * parameters > remaining)
        {
            throw new InvalidDataException(
                $"The stream is not a saved generative model, or it is truncated or damaged: its config describes a model of at least " +
                $"{parameters:N0} parameters, but only {remaining:N0} bytes follow the header.");
        }
    }

    /// <summary>
    /// Whether a failure while reading a model stream means that the data is cut short or is not in this format (rather
    /// than a failure of the runtime or of the device): <see cref="Damaged"/> reports those.
    /// </summary>
    public static bool IsDamage(Exception e) =>
        e is EndOfStreamException or FormatException || e.GetType() == typeof(IOException);

    /// <summary>The error of a stream that <see cref="IsDamage"/> says is not a whole generative model.</summary>
    public static InvalidDataException Damaged(Exception e) => new(
        $"The stream is not a saved generative model, or it is truncated or damaged ({e.GetType().Name}: {e.Message}). " +
        "Load a stream written by the generator's Save, from its start.", e);

    private static TransformerConfig ReadConfig(string json)
    {
        try
        {
            return JsonSerializer.Deserialize<TransformerConfig>(json)
                ?? throw new InvalidDataException("The generative model file has no configuration (its config JSON is null); the file is damaged.");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException(
                $"The configuration of the generative model file is not valid JSON ({e.Message}): the stream is not a saved generative model, or it is damaged.", e);
        }
    }
}
