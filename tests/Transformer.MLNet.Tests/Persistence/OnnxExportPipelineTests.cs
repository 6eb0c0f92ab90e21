using Microsoft.ML;
using Microsoft.ML.Data;
using Transformer.MLNet.Network.Export;
using Transformer.MLNet.Persistence;
using Transformer.MLNet.Tests.Reliability;

namespace Transformer.MLNet.Tests.Persistence;

/// <summary>
/// <c>mlContext.Model.ExportOnnx</c> on fitted pipelines. ONNX Runtime parity of the exported graphs is checked in the
/// network library's tests (category Parity); here: finding the network in a chain and the errors a user can meet.
/// </summary>
[TestClass]
public sealed class OnnxExportPipelineTests
{
    public TestContext TestContext { get; set; } = null!;

    [TestMethod]
    public void The_classifier_in_a_chain_exports_with_its_manifest_and_vocabulary()
    {
        var mlContext = TinyPipelines.Context;
        var data = TinyPipelines.TrainingData;
        var chain = new TransformerChain<ITransformer>(
            mlContext.Transforms.CopyColumns("TextCopy", "Text").Fit(data), TinyPipelines.BinaryModel);
        string folder = Path.Combine(TestContext.TestRunDirectory!, "onnx-export-chain");
        var manifest = mlContext.Model.ExportOnnx(chain, folder);

        Assert.AreEqual(OnnxExportTask.TextClassification, manifest.Task);
        Assert.AreEqual(2, manifest.OutputSize);
        Assert.IsFalse(manifest.Pairs);
        CollectionAssert.AreEqual(new[] { "input_ids", "attention_mask", "token_type_ids" }, manifest.Inputs.ToArray());
        Assert.AreEqual(manifest.ToJson(), OnnxExportManifest.FromJson(File.ReadAllText(Path.Combine(folder, OnnxExportManifest.FileName))).ToJson());
        Assert.IsGreaterThan(100_000L, new FileInfo(Path.Combine(folder, OnnxExportManifest.ModelFileName)).Length);
        Assert.IsTrue(File.Exists(Path.Combine(folder, OnnxExportManifest.VocabularyFileName)));
    }

    [TestMethod]
    public void A_chain_without_or_with_two_networks_is_refused_with_what_to_do()
    {
        var mlContext = TinyPipelines.Context;
        var data = TinyPipelines.TrainingData;
        string folder = Path.Combine(TestContext.TestRunDirectory!, "onnx-export-refused");
        var none = Assert.ThrowsExactly<ArgumentException>(() => mlContext.Model.ExportOnnx(mlContext.Transforms.CopyColumns("TextCopy", "Text").Fit(data), folder));
        StringAssert.Contains(none.Message, "none of Transformer.MLNet's transformers");
        var two = Assert.ThrowsExactly<ArgumentException>(() => mlContext.Model.ExportOnnx(
            new TransformerChain<ITransformer>(TinyPipelines.BinaryModel, TinyPipelines.BinaryModel), folder));
        StringAssert.Contains(two.Message, "export each one into its own folder");
        Assert.IsFalse(Directory.Exists(folder), "nothing is written when the export is refused");
    }
}
