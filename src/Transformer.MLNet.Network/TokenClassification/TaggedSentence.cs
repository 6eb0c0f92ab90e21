namespace Transformer.MLNet.Network.TokenClassification;

/// <summary>The tags a <see cref="TokenClassifier"/> gives one sentence, and the entities they spell.</summary>
/// <param name="Labels">One label index per word (into <see cref="TokenClassifierSettings.Labels"/>), a valid IOB2 sequence.</param>
/// <param name="Probabilities">Each word's probability of its label under the model.</param>
/// <param name="Entities">The entities, in order.</param>
public sealed record TaggedSentence(int[] Labels, float[] Probabilities, IReadOnlyList<TaggedEntity> Entities);

/// <summary>One entity over a sentence's words.</summary>
/// <param name="Type">Entity type, e.g. "PER".</param>
/// <param name="FirstWord">Index of its first word.</param>
/// <param name="EndWord">Index one past its last word.</param>
/// <param name="Score">Mean probability of its words' tags.</param>
public sealed record TaggedEntity(string Type, int FirstWord, int EndWord, float Score);
