namespace Transformer.MLNet.Persistence;

/// <summary>The transformer kinds this library ships.</summary>
internal static class BuiltInPersisters
{
    public static IReadOnlyList<ITransformerPersister> All { get; } = [];
}
