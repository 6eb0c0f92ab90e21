using System.Text.Json;
using System.Text.Json.Serialization;
using TorchSharp;
using Transformer.MLNet.Network.Bert;
using Transformer.MLNet.Network.Configuration;
using Transformer.MLNet.Network.Tokenization;
using static TorchSharp.torch;

namespace Transformer.MLNet.Network.Classification;

/// <summary>
/// A text classifier behind a managed-array API: texts in, class logits out. Tokenizer, encoder and head travel
/// together, are saved together and load with no code execution (JSON settings, a vocabulary and tensors).
/// Prediction is safe to call from several threads.
/// </summary>
public sealed class TextClassifier : IDisposable
{
    /// <summary>File names of a saved classifier folder.</summary>
    public const string SettingsFile = "classifier.json", ConfigFile = "config.json", WeightsFile = "weights.bin", VocabularyFile = "vocab.txt";

    private static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        Converters = { new JsonStringEnumConverter() },
    };

    private readonly Lock gate = new();

    private TextClassifier(SequenceClassifier model, BertTextTokenizer tokenizer, TextClassifierSettings settings, Device device)
    {
        Model = model;
        Tokenizer = tokenizer;
        Settings = settings;
        Device = device;
        model.to(device);
        model.eval();
    }

    /// <summary>Head and input settings.</summary>
    public TextClassifierSettings Settings { get; }

    /// <summary>Number of classes.</summary>
    public int ClassCount => Settings.ClassCount;

    /// <summary>The encoder's architecture.</summary>
    public TransformerConfig EncoderConfig => Model.EncoderConfig;

    /// <summary>The device the network runs on.</summary>
    public Device Device { get; }

    internal SequenceClassifier Model { get; }

    internal BertTextTokenizer Tokenizer { get; }

    /// <summary>Serialises access to the module: training and prediction never overlap.</summary>
    internal Lock Gate => gate;

    /// <summary>Puts a fresh classification head on <paramref name="encoder"/> (which the classifier then owns).</summary>
    /// <param name="encoder">A pretrained encoder to fine-tune, or a freshly initialised one to train from scratch.</param>
    /// <param name="tokenizer">The tokenizer whose ids the encoder reads.</param>
    /// <param name="settings">Classes, max tokens and dropout.</param>
    /// <param name="device">Where to run; CPU when null.</param>
    public static TextClassifier Create(BertModel encoder, BertTextTokenizer tokenizer, TextClassifierSettings settings, Device? device = null)
    {
        ArgumentNullException.ThrowIfNull(encoder);
        ArgumentNullException.ThrowIfNull(tokenizer);
        ArgumentNullException.ThrowIfNull(settings);
        settings.Validate();
        if (tokenizer.VocabularySize > encoder.Config.VocabSize)
        {
            throw new ArgumentException(
                $"The tokenizer has {tokenizer.VocabularySize} tokens but the encoder's TransformerConfig.VocabSize is {encoder.Config.VocabSize}; " +
                "use a config whose VocabSize covers the vocabulary.", nameof(tokenizer));
        }

        if (settings.MaxTokens > encoder.Config.MaxPositions)
        {
            throw new ArgumentOutOfRangeException(nameof(settings), settings.MaxTokens,
                $"MaxTokens ({settings.MaxTokens}) exceeds the encoder's MaxPositions ({encoder.Config.MaxPositions}).");
        }

        using var scope = NewDisposeScope();
        var model = new SequenceClassifier(encoder, settings.ClassCount, settings.Dropout);
        return new TextClassifier(model, tokenizer, settings, device ?? CPU);
    }

    /// <summary>Class logits of each text, in order (row i, class j).</summary>
    /// <param name="texts">Texts; null entries are read as empty.</param>
    public float[][] PredictLogits(IReadOnlyList<string> texts)
    {
        ArgumentNullException.ThrowIfNull(texts);
        if (texts.Count == 0)
            return [];
        var ids = texts.Select(t => Tokenizer.EncodeToIds(t ?? string.Empty, Settings.MaxTokens, out _)).ToList();
        lock (gate)
        {
            using var noGrad = no_grad();
            using var scope = NewDisposeScope();
            Model.eval();
            var logits = Logits(ids).to(CPU).to_type(ScalarType.Float32);  // (B, C)
            float[] flat = logits.data<float>().ToArray();
            var rows = new float[texts.Count][];
            for (int i = 0; i < rows.Length; i++)
                rows[i] = flat.AsSpan(i * ClassCount, ClassCount).ToArray();
            return rows;
        }
    }

    /// <summary>Runs the model on pre-tokenized texts, padded to the longest one; the caller owns the scope.</summary>
    /// <returns>(B, C) logits on <see cref="Device"/>.</returns>
    internal Tensor Logits(IReadOnlyList<int[]> ids)
    {
        var batch = new TokenizedBatch(ids, Tokenizer.PadTokenId, truncatedCount: 0);
        long[] shape = [batch.Count, batch.SequenceLength];
        var inputIds = tensor(batch.InputIds, shape, device: Device);        // (B, T)
        var mask = tensor(batch.AttentionMask, shape, device: Device);       // (B, T)
        var types = tensor(batch.TokenTypeIds, shape, device: Device);       // (B, T)
        return Model.forward(inputIds, mask, types);                        // (B, C)
    }

    /// <summary>Writes <c>classifier.json</c>, <c>config.json</c>, <c>weights.bin</c> (TorchSharp state dict) and <c>vocab.txt</c>.</summary>
    /// <param name="folder">Created if missing.</param>
    public void Save(string folder)
    {
        Directory.CreateDirectory(folder);
        File.WriteAllText(Path.Combine(folder, SettingsFile), JsonSerializer.Serialize(Settings, Json));
        File.WriteAllText(Path.Combine(folder, ConfigFile), JsonSerializer.Serialize(EncoderConfig, Json));
        Tokenizer.SaveVocabulary(Path.Combine(folder, VocabularyFile));
        lock (gate)
        {
            using var file = File.Create(Path.Combine(folder, WeightsFile));
            using var writer = new BinaryWriter(file);
            Model.save(writer);
        }
    }

    /// <summary>Loads a classifier written by <see cref="Save"/>: the network is built from the saved config, then filled.</summary>
    /// <param name="folder">The folder.</param>
    /// <param name="device">Where to run; CPU when null.</param>
    /// <exception cref="InvalidDataException">A file is missing or does not match the others.</exception>
    public static TextClassifier Load(string folder, Device? device = null)
    {
        string Required(string name)
        {
            string path = Path.Combine(folder, name);
            return File.Exists(path) ? path : throw new InvalidDataException($"Saved classifier folder '{folder}' has no {name}.");
        }

        var settings = JsonSerializer.Deserialize<TextClassifierSettings>(File.ReadAllText(Required(SettingsFile)), Json)
            ?? throw new InvalidDataException($"{SettingsFile} is empty.");
        var config = JsonSerializer.Deserialize<TransformerConfig>(File.ReadAllText(Required(ConfigFile)), Json)
            ?? throw new InvalidDataException($"{ConfigFile} is empty.");
        var tokenizer = BertTextTokenizer.LoadVocabulary(Required(VocabularyFile));
        var classifier = Create(new BertModel(config), tokenizer, settings, device);
        using var file = File.OpenRead(Required(WeightsFile));
        using var reader = new BinaryReader(file);
        classifier.Model.load(reader, strict: true);
        return classifier;
    }

    /// <summary>Frees the network.</summary>
    public void Dispose() => Model.Dispose();
}
