using Microsoft.ML.Data;

namespace Transformer.MLNet.TokenClassification;

/// <summary>One entity a token classifier found.</summary>
/// <param name="Type">Entity type, e.g. "PER".</param>
/// <param name="Start">Character offset of its first character in the input text (UTF-16 index).</param>
/// <param name="End">Character offset one past its last character: <c>text[Start..End]</c> is <see cref="Text"/>.</param>
/// <param name="Text">Its text, as written in the input.</param>
/// <param name="Score">Mean probability of its words' tags.</param>
/// <remarks>With a vector of words as input, offsets refer to the words joined by single spaces.</remarks>
public sealed record Entity(string Type, int Start, int End, string Text, float Score);

/// <summary>
/// The entity columns of a token classifier's output with the default prefix, for <c>PredictionEngine</c> or
/// <c>mlContext.Data.CreateEnumerable</c>; <see cref="GetEntities"/> puts them together.
/// </summary>
public sealed class EntityPrediction
{
    /// <summary>Type of each entity.</summary>
    public string[] EntityType { get; set; } = [];

    /// <summary>Text of each entity.</summary>
    public string[] EntityText { get; set; } = [];

    /// <summary>Start offset of each entity.</summary>
    public int[] EntityStart { get; set; } = [];

    /// <summary>End offset (exclusive) of each entity.</summary>
    public int[] EntityEnd { get; set; } = [];

    /// <summary>Score of each entity.</summary>
    public float[] EntityScore { get; set; } = [];

    /// <summary>The entities of the row, in order.</summary>
    /// <exception cref="InvalidOperationException">The five entity arrays are missing or of different lengths.</exception>
    public Entity[] GetEntities()
    {
        int count = EntityType?.Length ?? -1;
        (string Name, int Length)[] columns =
        [
            (nameof(EntityType), count), (nameof(EntityText), EntityText?.Length ?? -1), (nameof(EntityStart), EntityStart?.Length ?? -1),
            (nameof(EntityEnd), EntityEnd?.Length ?? -1), (nameof(EntityScore), EntityScore?.Length ?? -1),
        ];
        if (columns.Any(c => c.Length != count))
            throw new InvalidOperationException(
                "The entity arrays must be set and of one length (one element per entity); got " +
                string.Join(", ", columns.Select(c => c.Length < 0 ? $"{c.Name} null" : $"{c.Name} {c.Length}")) +
                ". Fill them from one prediction row of the token classifier's output.");
        return [.. EntityType!.Select((type, i) => new Entity(type, EntityStart![i], EntityEnd![i], EntityText![i], EntityScore![i]))];
    }
}
