using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;
using Transformer.MLNet.Schema;

namespace Transformer.MLNet.Tests.Infrastructure;

/// <summary>The two places that reach into ML.NET internals: they must keep working, or fail here first.</summary>
[TestClass]
public sealed class ReflectionPointTests
{
    [TestMethod]
    public void SchemaShape_column_constructor_is_reachable_and_builds_key_columns_with_annotations()
    {
        Assert.IsTrue(SchemaShapeColumns.IsSupported);
        var keyValues = SchemaShapeColumns.Create(AnnotationNames.KeyValues, SchemaShape.Column.VectorKind.Vector, TextDataViewType.Instance, false);
        var column = SchemaShapeColumns.Create("PredictedLabel", SchemaShape.Column.VectorKind.Scalar, NumberDataViewType.UInt32, true, keyValues);
        Assert.AreEqual("PredictedLabel", column.Name);
        Assert.IsTrue(column.IsKey);
        Assert.IsTrue(TestSchemas.HasAnnotation(column, AnnotationNames.KeyValues));
    }

    [TestMethod]
    public void Catalog_environment_is_the_contexts_and_carries_its_seed_and_device_settings()
    {
        var a = new MLContext(seed: 11) { GpuDeviceId = null, FallbackToCpu = true };
        var b = new MLContext(seed: 11);
        int fromText = a.Transforms.Text.GetEnvironment().Register("x").Rand.Next();
        int fromTrainers = b.BinaryClassification.Trainers.GetEnvironment().Register("x").Rand.Next();
        Assert.AreEqual(fromText, fromTrainers, "the same MLContext seed must give the same component randomness");
        Assert.AreEqual(TorchSharp.DeviceType.CPU, a.MulticlassClassification.Trainers.GetEnvironment().GetTorchDevice().type);

        var strict = new MLContext(seed: 1) { GpuDeviceId = 99, FallbackToCpu = false };
        var error = Assert.ThrowsExactly<InvalidOperationException>(() => strict.Transforms.Text.GetEnvironment().GetTorchDevice());
        StringAssert.Contains(error.Message, "FallbackToCpu");
    }

    [TestMethod]
    public void Messages_on_the_environment_reach_MLContext_Log()
    {
        var mlContext = new MLContext(seed: 1);
        var messages = new List<string>();
        mlContext.Log += (_, e) => messages.Add(e.Message);
        using (var channel = mlContext.Transforms.Text.GetEnvironment().Register("Probe").Start("Training"))
            channel.Info(MessageSensitivity.None, "hello from the probe");
        Assert.IsTrue(messages.Any(m => m.Contains("hello from the probe", StringComparison.Ordinal)));
    }
}
