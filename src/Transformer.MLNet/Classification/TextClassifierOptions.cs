using Microsoft.ML.SearchSpace;
using Transformer.MLNet.Network.Classification;
using Transformer.MLNet.Network.Configuration;
using Transformer.MLNet.Network.Training;
using Transformer.MLNet.Schema;

namespace Transformer.MLNet.Classification;

/// <summary>
/// Options of the text classification trainers (binary and multiclass) and of the text regression trainer (which
/// writes no predicted label, so it ignores <see cref="PredictedLabelColumnName"/> and <see cref="EncoderFineTuningOptions.LabelSmoothing"/>). The tunable ones carry ML.NET search-space
/// attributes, so <c>mlContext.Auto().CreateSweepableEstimator(..., new SearchSpace&lt;TextClassifierOptions&gt;())</c>
/// can sweep them.
/// </summary>
public sealed class TextClassifierOptions : EncoderFineTuningOptions
{
    /// <summary>The label column: Boolean for binary classification, a key (from <c>MapValueToKey</c>) for multiclass.</summary>
    public string LabelColumnName { get; set; } = ScoreColumnNames.Label;

    /// <summary>The text column.</summary>
    public string TextColumnName { get; set; } = "Text";

    /// <summary>
    /// The second text column for text pairs, or null (default) for single texts. With it each row is read as BERT
    /// reads a pair, <c>[CLS] text [SEP] second [SEP]</c> with token type 1 on the second text, and the two texts share
    /// <see cref="MaxTokens"/> (the longer one is cut first). An empty or whitespace-only second text is an error naming the column and row.
    /// </summary>
    public string? SecondTextColumnName { get; set; }

    /// <summary>Name of the score column written.</summary>
    public string ScoreColumnName { get; set; } = ScoreColumnNames.Score;

    /// <summary>Name of the predicted label column written.</summary>
    public string PredictedLabelColumnName { get; set; } = ScoreColumnNames.PredictedLabel;

    /// <summary>Most tokens per text ([CLS] and [SEP] included); longer texts are cut. Short texts train much faster with a small value.</summary>
    [Choice(new object[] { 32, 64, 128, 256 }, 64)]
    public int MaxTokens { get; set; } = 64;

    /// <summary>
    /// For text pairs whose order carries no meaning (similarity, paraphrase): every epoch trains on each pair in both
    /// orders, so that the model learns to score (a, b) like (b, a). Needs <see cref="SecondTextColumnName"/>. No AutoML
    /// search-space attribute: it is a property of the data (is the order meaningful?), and single texts reject it.
    /// </summary>
    public bool SymmetricPairs { get; set; }

    /// <summary>
    /// Regression on text pairs only (<c>TextRegression</c>): each epoch adds this many random pairings per training
    /// pair (the first text of one row with the second text of another), labelled with the smallest training label.
    /// Use it when the smallest label means "unrelated" (STS ratings: 0 = completely dissimilar) and the model will
    /// rank candidates that have nothing to do with the query: a similarity data set's pairs are mostly on one topic.
    /// 0 (default) adds none; at most 10. No AutoML search-space attribute: classifiers and single texts reject it.
    /// </summary>
    public double UnrelatedPairFraction { get; set; }

    /// <summary>The network trainer's settings for these options.</summary>
    internal ClassifierTrainingOptions ToTrainingOptions(int seed, IProgress<TrainingProgress>? progress) => ApplyFineTuning(
        new ClassifierTrainingOptions
        {
            FreezeTokenEmbeddings = FreezeTokenEmbeddings && ScratchConfig is null,
            SymmetricPairs = SymmetricPairs,
            UnrelatedPairFraction = UnrelatedPairFraction,
        }, seed, progress);

    /// <summary>Checks that the text column (and the second text column of pairs) are scalar text columns of the input shape.</summary>
    internal void CheckTextColumns(Microsoft.ML.SchemaShape inputSchema)
    {
        Mapping.TextColumn.Check(inputSchema, TextColumnName, nameof(TextColumnName));
        if (SecondTextColumnName is not null)
            Mapping.TextColumn.Check(inputSchema, SecondTextColumnName, nameof(SecondTextColumnName));
    }

    /// <summary>Checks every option before any data is read; errors name the option, its value and the fix.</summary>
    internal void Validate(bool regression)
    {
        ArgumentException.ThrowIfNullOrEmpty(TextColumnName, nameof(TextColumnName));
        ArgumentException.ThrowIfNullOrEmpty(LabelColumnName, nameof(LabelColumnName));
        ArgumentException.ThrowIfNullOrEmpty(ScoreColumnName, nameof(ScoreColumnName));
        if (!regression)
        {
            ArgumentException.ThrowIfNullOrEmpty(PredictedLabelColumnName, nameof(PredictedLabelColumnName));
            if (string.Equals(ScoreColumnName, PredictedLabelColumnName, StringComparison.Ordinal))
            {
                throw new ArgumentException(
                    $"ScoreColumnName and PredictedLabelColumnName are both '{ScoreColumnName}'; the classifier writes both columns, so give them different names.",
                    nameof(PredictedLabelColumnName));
            }
        }

        ValidateFineTuning();
        ToTrainingOptions(0, null).Validate();
        new TextClassifierSettings(2, MaxTokens, Dropout) { Pairs = SecondTextColumnName is not null }.Validate();
        if (SecondTextColumnName is not null && SecondTextColumnName.Length == 0)
            throw new ArgumentException("SecondTextColumnName is empty; name the second text column, or leave it null for single texts.", nameof(SecondTextColumnName));
        if (SymmetricPairs && SecondTextColumnName is null)
        {
            throw new ArgumentException(
                "SymmetricPairs = true swaps the two texts of each pair; set SecondTextColumnName to the second text column, or leave SymmetricPairs off.",
                nameof(SymmetricPairs));
        }

        if (UnrelatedPairFraction > 0 && (!regression || SecondTextColumnName is null))
        {
            throw new ArgumentException(
                $"UnrelatedPairFraction = {UnrelatedPairFraction} adds random pairings labelled with the smallest label, which only a regression " +
                "trainer on text pairs (mlContext.Regression.Trainers.TextRegression with SecondTextColumnName) can use; set it to 0.",
                nameof(UnrelatedPairFraction));
        }
    }
}
