using Transformer.MLNet.Network.Embeddings;

namespace Transformer.MLNet.Examples.SemanticSearch;

/// <summary>A text and its similarity to the query.</summary>
/// <param name="Text">The indexed text.</param>
/// <param name="Score">Cosine similarity, in [-1, 1].</param>
internal sealed record SearchHit(string Text, double Score);

/// <summary>
/// The smallest vector index that shows the idea: every vector in a list, a query compared with all of them. An
/// example only: no package on our feed ships an in-memory <c>Microsoft.Extensions.VectorData</c> store, and a real
/// application would put the same generator in front of one (a database with a vector index) for large collections.
/// </summary>
internal sealed class InMemoryCosineIndex
{
    private readonly List<(string Text, ReadOnlyMemory<float> Vector)> _entries = [];

    public int Count => _entries.Count;

    public void Add(string text, ReadOnlyMemory<float> vector) => _entries.Add((text, vector));

    /// <summary>The <paramref name="top"/> most similar texts, best first, leaving out those <paramref name="skip"/> rejects.</summary>
    public IReadOnlyList<SearchHit> Search(ReadOnlyMemory<float> query, int top, Func<string, bool>? skip = null) =>
        _entries.Where(e => skip is null || !skip(e.Text))
            .Select(e => new SearchHit(e.Text, EmbeddingSimilarity.Cosine(query.Span, e.Vector.Span)))
            .OrderByDescending(h => h.Score)
            .Take(top)
            .ToList();
}
