namespace Transformer.MLNet.Network.Embeddings;

/// <summary>How <see cref="SentenceEncoderTrainer"/> fine-tunes a sentence encoder on sentence pairs.</summary>
public enum SimilarityLoss
{
    /// <summary>
    /// CoSENT (Su 2022): for every two pairs in a batch whose gold scores differ, the pair rated more similar should
    /// have the higher cosine; loss = log(1 + Σ exp(scale · (cos_j − cos_i))) over pairs i rated above j. Needs scores;
    /// only their order matters, so any scale works.
    /// </summary>
    CoSent,

    /// <summary>Squared error between each pair's cosine and its score, which must be in [−1, 1] (e.g. an STS rating / 5).</summary>
    Cosine,

    /// <summary>
    /// Multiple-negatives ranking (Henderson et al. 2017): (anchor, positive) pairs, every other positive in the batch
    /// is a negative; cross-entropy of scale · cosine over the batch. Scores are not used.
    /// </summary>
    MultipleNegativesRanking,
}
