namespace Transformer.MLNet.Network.Classification;

/// <summary>
/// Training or validation examples of <see cref="TextClassifierTrainer"/>: texts (or text pairs) with a class each
/// (<see cref="Labels"/>) or a real-valued target each (<see cref="Targets"/>, for a regression head).
/// </summary>
/// <param name="Texts">The texts, or each pair's first text.</param>
/// <param name="SecondTexts">Each pair's second text, or null for single texts.</param>
public sealed record TextExamples(IReadOnlyList<string> Texts, IReadOnlyList<string>? SecondTexts = null)
{
    /// <summary>Class of each example, in [0, ClassCount); for classification.</summary>
    public IReadOnlyList<int>? Labels { get; init; }

    /// <summary>Target of each example (finite); for regression.</summary>
    public IReadOnlyList<float>? Targets { get; init; }

    /// <summary>Number of examples.</summary>
    public int Count => Texts.Count;
}
