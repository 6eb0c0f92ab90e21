using Microsoft.ML;

namespace Transformer.MLNet.Persistence;

/// <summary>
/// Saves and loads one kind of this library's transformers inside a pipeline archive. Each kind writes its own
/// documented entries into its segment folder; loading only reads data (JSON, tensors, vocabularies), never code.
/// Register new kinds in <see cref="TransformerPersisters"/>.
/// </summary>
internal interface ITransformerPersister
{
    /// <summary>Stable name written to the manifest; never change it once released.</summary>
    string Kind { get; }

    /// <summary>Whether this persister saves <paramref name="transformer"/>.</summary>
    bool CanSave(ITransformer transformer);

    /// <summary>Writes <paramref name="transformer"/> into its segment.</summary>
    void Save(ITransformer transformer, SegmentWriter segment);

    /// <summary>Rebuilds the transformer from its segment.</summary>
    ITransformer Load(SegmentReader segment);
}
