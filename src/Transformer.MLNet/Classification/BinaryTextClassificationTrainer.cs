using Microsoft.ML;
using Microsoft.ML.Runtime;
using Microsoft.ML.Data;
using Transformer.MLNet.Mapping;
using Transformer.MLNet.Schema;

namespace Transformer.MLNet.Classification;

/// <summary>
/// Fine-tunes a Transformer encoder (the pretrained MiniLM-L6 by default) with a classification head on a Boolean
/// label. Create it with <c>mlContext.BinaryClassification.Trainers.TextClassifier(...)</c>.
/// </summary>
/// <remarks>
/// | Input column | Type |
/// |---|---|
/// | label | Boolean |
/// | text | String |
///
/// Output: see <see cref="BinaryTextClassificationTransformer"/>.
/// </remarks>
public sealed class BinaryTextClassificationTrainer : IEstimator<BinaryTextClassificationTransformer>
{
    private const string Component = "BinaryTextClassification";
    private const string ProbabilityColumnName = ScoreColumnNames.Probability;
    private readonly IHostEnvironment environment;

    internal BinaryTextClassificationTrainer(IHostEnvironment environment, TextClassifierOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate(regression: false);
        this.environment = environment;
        Options = options;
    }

    /// <summary>The options this trainer was created with.</summary>
    public TextClassifierOptions Options { get; }

    /// <inheritdoc/>
    public BinaryTextClassificationTransformer Fit(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        var train = LabeledTexts.ReadBinary(input, Options);
        var validation = Options.ValidationSet is null ? null : LabeledTexts.ReadBinary(Options.ValidationSet, Options);
        var classifier = ClassifierFitting.Train(environment, Options, Component, train, validation, classCount: 2);
        return new BinaryTextClassificationTransformer(
            classifier, Options.TextColumnName, Options.SecondTextColumnName, Options.ScoreColumnName, ProbabilityColumnName,
            Options.PredictedLabelColumnName, Options.InferenceBatchSize);
    }

    /// <inheritdoc/>
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        Options.CheckTextColumns(inputSchema);
        var label = inputSchema.FirstOrDefault(c => c.Name == Options.LabelColumnName);
        if (label.Name is null || label.Kind != SchemaShape.Column.VectorKind.Scalar || label.ItemType is not BooleanDataViewType)
        {
            throw new ArgumentOutOfRangeException(nameof(Options.LabelColumnName),
                $"Label column '{Options.LabelColumnName}' must be a scalar Boolean column for binary classification" +
                (label.Name is null ? " but is missing." : $" but is {label.Kind} of {label.ItemType}."));
        }

        var outputs = BinaryTextClassificationTransformer.DefineOutputs(Options.ScoreColumnName, ProbabilityColumnName, Options.PredictedLabelColumnName);
        return SchemaShapeColumns.Append(inputSchema, OutputColumn.ToShapes(outputs));
    }
}
