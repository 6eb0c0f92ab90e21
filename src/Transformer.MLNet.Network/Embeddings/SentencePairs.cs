namespace Transformer.MLNet.Network.Embeddings;

/// <summary>Sentence pairs to fine-tune or validate a sentence encoder with.</summary>
/// <param name="First">Each pair's first sentence (an anchor for <see cref="SimilarityLoss.MultipleNegativesRanking"/>).</param>
/// <param name="Second">Each pair's second sentence (the positive).</param>
public sealed record SentencePairs(IReadOnlyList<string> First, IReadOnlyList<string> Second)
{
    /// <summary>Gold similarity of each pair (any scale for CoSENT, [−1, 1] for cosine loss); null for (anchor, positive) pairs.</summary>
    public IReadOnlyList<float>? Scores { get; init; }

    /// <summary>Number of pairs.</summary>
    public int Count => First.Count;
}
