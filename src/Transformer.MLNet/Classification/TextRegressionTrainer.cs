using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;
using Transformer.MLNet.Mapping;
using Transformer.MLNet.Schema;

namespace Transformer.MLNet.Classification;

/// <summary>
/// Fine-tunes a Transformer encoder (the pretrained MiniLM-L6 by default) with a regression head on a Single label,
/// on one text column or on a pair of them (a cross-encoder, with <see cref="TextClassifierOptions.SecondTextColumnName"/>).
/// Create it with <c>mlContext.Regression.Trainers.TextRegression(...)</c>.
/// </summary>
/// <remarks>
/// | Input column | Type |
/// |---|---|
/// | label | Single (finite) |
/// | text | String |
/// | second text (pairs) | String, not empty |
///
/// The head is trained with squared error on the labels standardised by their mean and standard deviation; the
/// <c>Score</c> column is in the labels' units. Validation metric: root mean squared error (standardised).
/// Output: see <see cref="TextRegressionTransformer"/>.
/// </remarks>
public sealed class TextRegressionTrainer : IEstimator<TextRegressionTransformer>
{
    private const string Component = "TextRegression";
    private readonly IHostEnvironment environment;

    internal TextRegressionTrainer(IHostEnvironment environment, TextClassifierOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate(regression: true);
        this.environment = environment;
        Options = options;
    }

    /// <summary>The options this trainer was created with.</summary>
    public TextClassifierOptions Options { get; }

    /// <inheritdoc/>
    public TextRegressionTransformer Fit(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        var train = LabeledTexts.ReadTargets(input, Options);
        var validation = Options.ValidationSet is null ? null : LabeledTexts.ReadTargets(Options.ValidationSet, Options);
        var network = ClassifierFitting.Train(environment, Options, Component, train, validation, classCount: 1);
        return new TextRegressionTransformer(network, Options.TextColumnName, Options.SecondTextColumnName, Options.ScoreColumnName, Options.InferenceBatchSize);
    }

    /// <inheritdoc/>
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        Options.CheckTextColumns(inputSchema);
        var label = inputSchema.FirstOrDefault(c => c.Name == Options.LabelColumnName);
        if (label.Name is null || label.Kind != SchemaShape.Column.VectorKind.Scalar || label.ItemType != NumberDataViewType.Single)
        {
            throw new ArgumentOutOfRangeException(nameof(Options.LabelColumnName),
                $"Label column '{Options.LabelColumnName}' must be a scalar Single column for regression" +
                (label.Name is null ? " but is missing." : $" but is {label.Kind} of {label.ItemType}."));
        }

        return SchemaShapeColumns.Append(inputSchema,
            OutputColumn.ToShapes([OutputColumn.Single(Options.ScoreColumnName, row => row[0], ScoreAnnotations.Regression())]));
    }
}
