using System.Text;
using Transformer.MLNet.Network.Classification;
using Transformer.MLNet.Network.Pretrained;

namespace Transformer.MLNet.Network.Tests.Reliability;

/// <summary>A saved classifier folder that is truncated, corrupted or edited fails to load with an error naming the file.</summary>
[TestClass]
public sealed class ClassifierFolderTests
{
    private string folder = "";

    [TestInitialize]
    public void SaveOne()
    {
        folder = Path.Combine(Path.GetTempPath(), $"classifier-{Guid.NewGuid():N}");
        using var classifier = TinyClassifiers.New(3);
        classifier.Save(folder);
    }

    [TestCleanup]
    public void Remove() => Directory.Delete(folder, recursive: true);

    private string PathOf(string name) => Path.Combine(folder, name);

    private void ExpectLoadError(string fragment)
    {
        var error = Assert.ThrowsExactly<InvalidDataException>(() => TextClassifier.Load(folder));
        StringAssert.Contains(error.Message, fragment);
    }

    [TestMethod]
    [TestCategory("Reliability")]
    public void Truncated_or_garbled_weights_fail_with_the_file_named()
    {
        string weights = PathOf(PretrainedBert.WeightsFileName);
        byte[] original = File.ReadAllBytes(weights);

        File.WriteAllBytes(weights, original[..(original.Length / 2)]);
        ExpectLoadError("outside the file");
        File.WriteAllBytes(weights, original[..5]);
        ExpectLoadError("too short");
        var hugeHeader = (byte[])original.Clone();
        BitConverter.TryWriteBytes(hugeHeader.AsSpan(0, 8), ulong.MaxValue - 7);
        File.WriteAllBytes(weights, hugeHeader);
        ExpectLoadError("truncated or not safetensors");
        File.WriteAllBytes(weights, Encoding.UTF8.GetBytes("import os; os.system('echo pwned')"));
        Assert.ThrowsExactly<InvalidDataException>(() => TextClassifier.Load(folder), "a script is data, never executed");
        File.Delete(weights);
        ExpectLoadError("has no model.safetensors");
    }

    [TestMethod]
    [TestCategory("Reliability")]
    public void Edited_settings_config_or_vocabulary_fail_with_the_file_named()
    {
        string settings = PathOf(TextClassifier.SettingsFile);
        string original = File.ReadAllText(settings);
        File.WriteAllText(settings, original[..(original.Length / 2)]);
        ExpectLoadError("invalid classifier.json");
        File.WriteAllText(settings, original.Replace("\"ClassCount\": 2", "\"ClassCount\": 1", StringComparison.Ordinal));
        ExpectLoadError("at least 2 classes");
        File.WriteAllText(settings, original.Replace("\"ClassCount\": 2", "\"ClassCount\": 3", StringComparison.Ordinal));
        Assert.ThrowsExactly<InvalidDataException>(() => TextClassifier.Load(folder), "head shape no longer matches the weights");
        File.WriteAllText(settings, original);

        string config = PathOf(PretrainedBert.ConfigFileName);
        string configText = File.ReadAllText(config);
        File.WriteAllText(config, "{ not json");
        ExpectLoadError("config.json");
        File.WriteAllText(config, configText.Replace("\"hidden_size\": 32", "\"hidden_size\": 64", StringComparison.Ordinal));
        Assert.ThrowsExactly<InvalidDataException>(() => TextClassifier.Load(folder), "weights of another shape are refused");
        File.WriteAllText(config, configText);

        string vocabulary = PathOf(PretrainedBert.VocabularyFileName);
        File.WriteAllText(vocabulary, string.Join('\n', File.ReadAllLines(vocabulary).Where(l => l != "[CLS]")));
        ExpectLoadError("[CLS]");
    }
}
