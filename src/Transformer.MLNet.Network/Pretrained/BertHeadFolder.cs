using System.Text.Json;
using TorchSharp;
using Transformer.MLNet.Network.Bert;
using Transformer.MLNet.Network.Configuration;
using Transformer.MLNet.Network.IO;
using Transformer.MLNet.Network.Tokenization;

namespace Transformer.MLNet.Network.Pretrained;

/// <summary>
/// The folder of a fine-tuned BERT with a task head: Hugging Face's <c>config.json</c>, <c>vocab.txt</c> and
/// <c>model.safetensors</c> (encoder under <c>bert.*</c>, head beside it), plus a JSON file of the head's settings.
/// One writer and one strict reader for every such model (text classifiers, token classifiers).
/// </summary>
internal static class BertHeadFolder
{
    /// <summary>Writes the four files; the weights are read under <paramref name="gate"/> so a concurrent prediction cannot race.</summary>
    public static void Save<TSettings>(
        string folder, string settingsFile, TSettings settings, JsonSerializerOptions json,
        TransformerConfig config, BertTextTokenizer tokenizer, torch.nn.Module model, Lock gate)
    {
        OutputFolder.Create(folder);
        AtomicFile.WriteAllText(Path.Combine(folder, settingsFile), JsonSerializer.Serialize(settings, json));
        HuggingFaceBertConfig.Write(Path.Combine(folder, PretrainedBert.ConfigFileName), config);
        tokenizer.SaveVocabulary(Path.Combine(folder, PretrainedBert.VocabularyFileName));
        lock (gate)
            SafeTensors.Write(Path.Combine(folder, PretrainedBert.WeightsFileName), model.state_dict());
    }

    /// <summary>
    /// Reads a folder written by <see cref="Save"/>: settings (checked by <paramref name="validate"/>), then a network built
    /// on the CPU from the saved config by <paramref name="create"/> and filled strictly from the weights file.
    /// </summary>
    /// <param name="folder">The folder.</param>
    /// <param name="settingsFile">Name of the settings file in it.</param>
    /// <param name="kind">What the folder holds, for messages (e.g. "classifier").</param>
    /// <param name="json">Serializer options of the settings.</param>
    /// <param name="validate">Checks the settings read; throws <see cref="ArgumentException"/> when they are invalid.</param>
    /// <param name="create">Builds the model around an encoder of the saved config.</param>
    /// <param name="model">The module whose state dict the weights file holds.</param>
    /// <exception cref="InvalidDataException">A file is missing, invalid, or does not match the others.</exception>
    public static T Load<TSettings, T>(
        string folder, string settingsFile, string kind, JsonSerializerOptions json, Func<TSettings, TSettings> validate,
        Func<BertModel, BertTextTokenizer, TSettings, T> create, Func<T, torch.nn.Module> model)
        where TSettings : class
        where T : IDisposable
    {
        string Required(string name)
        {
            string path = Path.Combine(folder, name);
            return File.Exists(path) ? path : throw new InvalidDataException($"Saved {kind} folder '{folder}' has no {name}.");
        }

        TSettings settings;
        try
        {
            settings = validate(JsonSerializer.Deserialize<TSettings>(File.ReadAllText(Required(settingsFile)), json)
                ?? throw new InvalidDataException($"{settingsFile} is empty."));
        }
        catch (Exception e) when (e is JsonException or ArgumentException)
        {
            throw new InvalidDataException($"Saved {kind} folder '{folder}' has an invalid {settingsFile}: {e.Message}", e);
        }

        var config = HuggingFaceBertConfig.Read(Required(PretrainedBert.ConfigFileName));
        string vocabularyPath = Required(PretrainedBert.VocabularyFileName);
        var tokenizer = BertTextTokenizer.LoadVocabulary(vocabularyPath);
        PretrainedBert.CheckVocabularyFitsConfig(tokenizer, config, vocabularyPath, Path.Combine(folder, PretrainedBert.ConfigFileName));
        string weightsPath = Required(PretrainedBert.WeightsFileName);
        PretrainedBert.CheckConfigFitsWeights(config, Path.Combine(folder, PretrainedBert.ConfigFileName), weightsPath);
        var weights = SafeTensors.Read(weightsPath);
        var loaded = create(new BertModel(config), tokenizer, settings);
        try
        {
            StateDictLoader.LoadStrict(model(loaded), weights, weightsPath);
        }
        catch
        {
            loaded.Dispose();
            throw;
        }
        finally
        {
            foreach (var t in weights.Values)
                t.Dispose();
        }

        return loaded;
    }
}
