using Transformer.MLNet.Examples.Data;
using Transformer.MLNet.Network.Pretrained;

namespace Transformer.MLNet.Network.Tests.Pretrained;

/// <summary>The MiniLM model and the STS-B test sentences, loaded once for all test classes that need them.</summary>
internal static class MiniLmFixture
{
    private static readonly Lazy<PretrainedBert> LazyModel = new(PretrainedBert.LoadMiniLm);
    private static readonly Lazy<IReadOnlyList<StsPair>> LazyPairs = new(() => StsBenchmark.Read("test"));

    /// <summary>all-MiniLM-L6-v2, float32, evaluation mode. Shared: tests must not change its weights.</summary>
    public static PretrainedBert Model => LazyModel.Value;

    /// <summary>The 1379 STS-B test pairs.</summary>
    public static IReadOnlyList<StsPair> Pairs => LazyPairs.Value;

    /// <summary>The 2758 STS-B test sentences: each pair's first, then second sentence.</summary>
    public static IReadOnlyList<string> Sentences => [.. Pairs.SelectMany(p => new[] { p.Sentence1, p.Sentence2 })];

    /// <summary>The ONNX model embedded in the NuGet package, as ONNX Runtime reads it.</summary>
    public static byte[] OnnxModel() => MiniLmPackage.ReadResource(MiniLmPackage.Locate(), MiniLmPackage.ModelResource);
}
