using Transformer.MLNet.Network.Pretrained;
using static TorchSharp.torch;

namespace Transformer.MLNet.Network.Tests.Pretrained;

[TestClass]
public sealed class PretrainedFolderTests
{
    private static string NewFolder() => Path.Combine(Path.GetTempPath(), $"bert-{Guid.NewGuid():N}");

    [TestMethod]
    public void Safetensors_export_then_import_gives_identical_outputs()
    {
        var original = MiniLmFixture.Model;
        string folder = NewFolder();
        try
        {
            original.SaveFolder(folder);
            CollectionAssert.AreEquivalent(new[] { "config.json", "model.safetensors", "vocab.txt" },
                Directory.GetFiles(folder).Select(Path.GetFileName).ToArray());
            using var reloaded = PretrainedBert.LoadFolder(folder);
            Assert.AreEqual(original.Config with { Name = "" }, reloaded.Config with { Name = "" });

            var batch = original.Tokenizer.Encode(MiniLmFixture.Sentences.Take(16).ToList());
            CollectionAssert.AreEqual(batch.InputIds, reloaded.Tokenizer.Encode(MiniLmFixture.Sentences.Take(16).ToList()).InputIds);
            using var scope = NewDisposeScope();
            using var inference = inference_mode();
            long[] shape = [batch.Count, batch.SequenceLength];
            Tensor Run(PretrainedBert bert) => bert.Model.forward(tensor(batch.InputIds, shape), tensor(batch.AttentionMask, shape), tensor(batch.TokenTypeIds, shape));
            var expected = Run(original);
            var actual = Run(reloaded);
            Assert.IsTrue(expected.eq(actual).all().item<bool>(), "outputs differ after the safetensors round trip");
            Assert.IsTrue(original.Model.Pool(expected).eq(reloaded.Model.Pool(actual)).all().item<bool>());
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [TestMethod]
    public void Reading_weights_leaves_only_the_weights_alive_and_nothing_for_the_finalizer()
    {
        string folder = NewFolder();
        try
        {
            MiniLmFixture.Model.SaveFolder(folder);
            string package = MiniLmPackage.Locate();
            var onnx = MiniLmPackage.ReadResource(package, MiniLmPackage.ModelResource);
            foreach (var (what, read) in new (string, Func<Dictionary<string, Tensor>>)[]
            {
                ("ONNX", () => OnnxBertWeights.ReadStateDict(onnx)),
                ("safetensors", () => SafeTensors.Read(Path.Combine(folder, PretrainedBert.WeightsFileName))),
            })
            {
                // Every other tensor made while reading (views, TorchSharp's intermediate wrappers) is disposed on this
                // thread before the reader returns; one left to the GC would still count here.
                long before = Tensor.TotalCount;
                var weights = read();
                long alive = Tensor.TotalCount - before;
                foreach (var t in weights.Values)
                    t.Dispose();
                Assert.AreEqual(weights.Count, alive, $"{what}: live tensors after reading {alive}, weights returned {weights.Count}");
                Assert.AreEqual(before, Tensor.TotalCount, $"{what}: disposing the weights returns to the count before reading");
            }
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [TestMethod]
    public void Loading_fails_loudly_on_missing_unexpected_or_mis_shaped_tensors()
    {
        string folder = NewFolder();
        try
        {
            MiniLmFixture.Model.SaveFolder(folder);
            string weights = Path.Combine(folder, PretrainedBert.WeightsFileName);
            var tensors = SafeTensors.Read(weights);
            tensors.Remove("encoder.layer.3.intermediate.dense.bias", out var removed);
            removed!.Dispose();
            tensors["encoder.layer.0.extra.weight"] = zeros(2);
            tensors["pooler.dense.weight"].Dispose();
            tensors["pooler.dense.weight"] = zeros(384, 383);
            SafeTensors.Write(weights, tensors);
            foreach (var t in tensors.Values)
                t.Dispose();

            var error = Assert.ThrowsExactly<InvalidDataException>(() => PretrainedBert.LoadFolder(folder));
            StringAssert.Contains(error.Message, "1 missing: encoder.layer.3.intermediate.dense.bias");
            StringAssert.Contains(error.Message, "1 unexpected: encoder.layer.0.extra.weight");
            StringAssert.Contains(error.Message, "pooler.dense.weight: expected [384, 384], got [384, 383]");

            File.Delete(Path.Combine(folder, PretrainedBert.ConfigFileName));
            var missingConfig = Assert.ThrowsExactly<FileNotFoundException>(() => PretrainedBert.LoadFolder(folder));
            StringAssert.Contains(missingConfig.Message, "config.json");
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [TestMethod]
    public void Onnx_import_names_every_parameter_of_the_model()
    {
        // 22,713,772 parameters in the ONNX file = all of BertModel's (the int64 position_ids buffer excluded).
        var weights = OnnxBertWeights.ReadStateDict(MiniLmFixture.OnnxModel());
        try
        {
            Assert.HasCount(MiniLmFixture.Model.Model.state_dict().Count, weights);
            Assert.AreEqual(22_713_216L, weights.Values.Sum(t => t.numel()));
        }
        finally
        {
            foreach (var t in weights.Values)
                t.Dispose();
        }
    }
}
