namespace Transformer.MLNet.Network.Metrics;

/// <summary>Precision, recall and F1 of one entity type, or of all types together (micro average).</summary>
/// <param name="Gold">Entities in the reference.</param>
/// <param name="Predicted">Entities predicted.</param>
/// <param name="Correct">Predicted entities whose type, start and end all equal a reference entity's.</param>
public sealed record EntityCounts(int Gold, int Predicted, int Correct)
{
    /// <summary>Correct / Predicted; 0 when nothing was predicted.</summary>
    public double Precision => Predicted == 0 ? 0 : (double)Correct / Predicted;

    /// <summary>Correct / Gold; 0 when the reference has no entity.</summary>
    public double Recall => Gold == 0 ? 0 : (double)Correct / Gold;

    /// <summary>Harmonic mean of precision and recall; 0 when both are 0.</summary>
    public double F1 => Precision + Recall == 0 ? 0 : 2 * Precision * Recall / (Precision + Recall);
}

/// <summary>Entity-level scores of a corpus: micro average over all entities and one line per type.</summary>
/// <param name="Micro">All entities together.</param>
/// <param name="PerType">Each entity type seen in the reference or the predictions, ordered by name.</param>
/// <param name="MacroF1">Unweighted mean of the per-type F1 scores.</param>
public sealed record EntityScores(EntityCounts Micro, IReadOnlyDictionary<string, EntityCounts> PerType, double MacroF1)
{
    /// <summary>
    /// Scores predicted IOB2 tags against reference tags, counting exact spans as conlleval and seqeval do: an entity
    /// is correct only when its type, first word and last word all match.
    /// </summary>
    /// <param name="gold">Reference tags, one array per sentence.</param>
    /// <param name="predicted">Predicted tags, one array per sentence, each as long as its reference.</param>
    /// <returns>The scores.</returns>
    /// <exception cref="ArgumentException">The sentence counts or a sentence's lengths differ, or a tag is not IOB2.</exception>
    public static EntityScores FromIob2(IReadOnlyList<IReadOnlyList<string>> gold, IReadOnlyList<IReadOnlyList<string>> predicted)
    {
        ArgumentNullException.ThrowIfNull(gold);
        ArgumentNullException.ThrowIfNull(predicted);
        if (gold.Count != predicted.Count)
            throw new ArgumentException($"{gold.Count} reference sentences but {predicted.Count} predicted ones; pass one predicted tag sequence per sentence.", nameof(predicted));

        var spans = new List<(IReadOnlyList<EntitySpan> Gold, IReadOnlyList<EntitySpan> Predicted)>(gold.Count);
        for (int s = 0; s < gold.Count; s++)
        {
            if (gold[s].Count != predicted[s].Count)
                throw new ArgumentException($"Sentence {s}: {gold[s].Count} reference tags but {predicted[s].Count} predicted tags; they must be one per word.", nameof(predicted));
            spans.Add((EntitySpans.FromIob2(gold[s]), EntitySpans.FromIob2(predicted[s])));
        }

        return FromSpans(spans);
    }

    /// <summary>Scores predicted entities against reference entities, sentence by sentence, by exact span and type.</summary>
    /// <param name="sentences">For each sentence, its reference and predicted entities.</param>
    /// <returns>The scores.</returns>
    internal static EntityScores FromSpans(IEnumerable<(IReadOnlyList<EntitySpan> Gold, IReadOnlyList<EntitySpan> Predicted)> sentences)
    {
        ArgumentNullException.ThrowIfNull(sentences);
        var counts = new SortedDictionary<string, (int Gold, int Predicted, int Correct)>(StringComparer.Ordinal);
        foreach (var (gold, predicted) in sentences)
        {
            var remaining = new HashSet<EntitySpan>(gold);
            foreach (var span in gold)
                Add(span.Type, gold: 1);
            foreach (var span in predicted)
                Add(span.Type, predicted: 1, correct: remaining.Remove(span) ? 1 : 0);
        }

        var perType = counts.ToDictionary(p => p.Key, p => new EntityCounts(p.Value.Gold, p.Value.Predicted, p.Value.Correct), StringComparer.Ordinal);
        var micro = new EntityCounts(perType.Values.Sum(c => c.Gold), perType.Values.Sum(c => c.Predicted), perType.Values.Sum(c => c.Correct));
        double macro = perType.Count == 0 ? 0 : perType.Values.Average(c => c.F1);
        return new EntityScores(micro, perType, macro);

        void Add(string type, int gold = 0, int predicted = 0, int correct = 0)
        {
            var c = counts.GetValueOrDefault(type);
            counts[type] = (c.Gold + gold, c.Predicted + predicted, c.Correct + correct);
        }
    }
}
