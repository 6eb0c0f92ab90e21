namespace Transformer.MLNet.Network.Embeddings;

/// <summary>Similarity of two embeddings.</summary>
public static class EmbeddingSimilarity
{
    /// <summary>Cosine similarity, in [-1, 1]; 0 when either vector is zero.</summary>
    /// <param name="a">First embedding.</param>
    /// <param name="b">Second embedding, as long as <paramref name="a"/>.</param>
    public static double Cosine(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        if (a.Length != b.Length)
            throw new ArgumentException($"Embeddings of different lengths ({a.Length} and {b.Length}) cannot be compared.");
        double dot = 0, na = 0, nb = 0;
        for (int i = 0; i < a.Length; i++)
        {
            dot += (double)a[i] * b[i];
            na += (double)a[i] * a[i];
            nb += (double)b[i] * b[i];
        }

        return na == 0 || nb == 0 ? 0 : dot / Math.Sqrt(na * nb);
    }
}
