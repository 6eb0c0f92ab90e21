using Microsoft.ML;

namespace Transformer.MLNet.Persistence;

/// <summary>The registry of this library's transformer kinds that a pipeline archive can hold.</summary>
internal static class TransformerPersisters
{
    private static readonly List<ITransformerPersister> Registered = [];
    private static readonly Lock Gate = new();

    /// <summary>Adds a kind; a kind name may be registered once.</summary>
    public static void Register(ITransformerPersister persister)
    {
        lock (Gate)
        {
            if (Registered.Any(p => p.Kind == persister.Kind))
                return;
            Registered.Add(persister);
        }
    }

    /// <summary>The persister for <paramref name="transformer"/>, or null for ML.NET's own transformers.</summary>
    public static ITransformerPersister? For(ITransformer transformer)
    {
        EnsureBuiltIns();
        lock (Gate)
            return Registered.FirstOrDefault(p => p.CanSave(transformer));
    }

    /// <summary>The persister that wrote segments of <paramref name="kind"/>.</summary>
    /// <exception cref="InvalidDataException">No such kind is known to this version of the library.</exception>
    public static ITransformerPersister ForKind(string kind)
    {
        EnsureBuiltIns();
        lock (Gate)
        {
            return Registered.FirstOrDefault(p => p.Kind == kind)
                ?? throw new InvalidDataException(
                    $"The pipeline archive holds a segment of kind '{kind}', which this version of Transformer.MLNet does not know " +
                    $"(known: {string.Join(", ", Registered.Select(p => p.Kind))}). Update the library.");
        }
    }

    private static void EnsureBuiltIns()
    {
        foreach (var persister in BuiltInPersisters.All)
            Register(persister);
    }
}
