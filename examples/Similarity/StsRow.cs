using Transformer.MLNet.Examples.Data;

namespace Similarity;

/// <summary>An STS Benchmark pair as ML.NET reads it.</summary>
public sealed class StsRow
{
    public string Sentence1 { get; set; } = "";

    public string Sentence2 { get; set; } = "";

    /// <summary>Gold similarity, 0–5.</summary>
    public float Label { get; set; }

    public static IEnumerable<StsRow> From(IEnumerable<StsPair> pairs) =>
        pairs.Select(p => new StsRow { Sentence1 = p.Sentence1, Sentence2 = p.Sentence2, Label = (float)p.Score });
}
