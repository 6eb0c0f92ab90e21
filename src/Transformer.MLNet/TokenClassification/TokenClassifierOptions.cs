using Microsoft.ML.SearchSpace;
using Transformer.MLNet.Network.Configuration;
using Transformer.MLNet.Network.TokenClassification;
using Transformer.MLNet.Network.Training;
using Transformer.MLNet.Schema;

namespace Transformer.MLNet.TokenClassification;

/// <summary>
/// Options of the token classifier (named entities and other IOB2 tagging). The tunable ones carry ML.NET search-space
/// attributes for AutoML.
/// </summary>
public sealed class TokenClassifierOptions : EncoderFineTuningOptions
{
    /// <summary>
    /// The label column: a vector of keys, one IOB2 tag per word (<c>O</c>, <c>B-TYPE</c>, <c>I-TYPE</c>), as
    /// <c>MapValueToKey</c> makes from a vector of tag strings; its key values name the tags.
    /// </summary>
    public string LabelColumnName { get; set; } = ScoreColumnNames.Label;

    /// <summary>
    /// The input column: raw text (String), cut into words at whitespace with each punctuation character a word of its
    /// own, or a sentence already split into words (a vector of String).
    /// </summary>
    public string TextColumnName { get; set; } = "Text";

    /// <summary>Name of the predicted tags column written: a vector of the label's key type, one key per word.</summary>
    public string PredictedLabelColumnName { get; set; } = ScoreColumnNames.PredictedLabel;

    /// <summary>
    /// Prefix of the entity columns written: <c>{prefix}Type</c> and <c>{prefix}Text</c> (vectors of String),
    /// <c>{prefix}Start</c> and <c>{prefix}End</c> (vectors of Int32, character offsets, end exclusive) and
    /// <c>{prefix}Score</c> (vector of Single), one item per entity found.
    /// </summary>
    public string EntityColumnPrefix { get; set; } = "Entity";

    /// <summary>Most word pieces per sentence ([CLS] and [SEP] included); the words past the limit are tagged <c>O</c>.</summary>
    [Choice(new object[] { 64, 128, 256 }, 128)]
    public int MaxTokens { get; set; } = 128;

    /// <summary>The network trainer's settings for these options.</summary>
    internal TokenClassifierTrainingOptions ToTrainingOptions(int seed, IProgress<TrainingProgress>? progress) => ApplyFineTuning(
        new TokenClassifierTrainingOptions { FreezeTokenEmbeddings = FreezeTokenEmbeddings && ScratchConfig is null }, seed, progress);

    /// <summary>The output column names, in order.</summary>
    internal string[] EntityColumnNames => TokenClassificationTransformer.EntityColumns(EntityColumnPrefix);

    /// <summary>Checks every option before any data is read; errors name the option, its value and the fix.</summary>
    internal void Validate()
    {
        ArgumentException.ThrowIfNullOrEmpty(TextColumnName, nameof(TextColumnName));
        ArgumentException.ThrowIfNullOrEmpty(LabelColumnName, nameof(LabelColumnName));
        ArgumentException.ThrowIfNullOrEmpty(PredictedLabelColumnName, nameof(PredictedLabelColumnName));
        ArgumentException.ThrowIfNullOrEmpty(EntityColumnPrefix, nameof(EntityColumnPrefix));
        if (EntityColumnNames.Contains(PredictedLabelColumnName, StringComparer.Ordinal))
        {
            throw new ArgumentException(
                $"PredictedLabelColumnName = '{PredictedLabelColumnName}' is also one of the entity columns written with EntityColumnPrefix = " +
                $"'{EntityColumnPrefix}' ({string.Join(", ", EntityColumnNames)}); rename one of them.", nameof(PredictedLabelColumnName));
        }
        ValidateFineTuning();
        ToTrainingOptions(0, null).Validate();
        new TokenClassifierSettings(["O"], MaxTokens, Dropout).Validate();
    }
}
