namespace Transformer.MLNet.Persistence;

/// <summary>Names of the segment that holds a run of ML.NET's own transformers.</summary>
internal static class MLNetSegment
{
    /// <summary>Kind written to the manifest.</summary>
    public const string KindName = "mlnet";

    /// <summary>The entry holding the run, as written by <c>mlContext.Model.Save</c> with the run's input schema.</summary>
    public const string ModelEntry = "model.zip";
}
