using Microsoft.ML;
using Microsoft.ML.Runtime;
using Microsoft.ML.Data;
using Transformer.MLNet.Mapping;
using Transformer.MLNet.Schema;

namespace Transformer.MLNet.Classification;

/// <summary>
/// Fine-tunes a Transformer encoder (the pretrained MiniLM-L6 by default) with a classification head on a key label
/// (add <c>MapValueToKey</c> first). Create it with <c>mlContext.MulticlassClassification.Trainers.TextClassifier(...)</c>.
/// </summary>
/// <remarks>
/// | Input column | Type |
/// |---|---|
/// | label | Key&lt;UInt32, n&gt;, n ≥ 2 |
/// | text | String |
///
/// Output: see <see cref="MulticlassTextClassificationTransformer"/>; class names and the predicted label's key values
/// come from the label's key values, which keep their type.
/// </remarks>
public sealed class MulticlassTextClassificationTrainer : IEstimator<MulticlassTextClassificationTransformer>
{
    private const string Component = "MulticlassTextClassification";
    private readonly IHostEnvironment environment;

    internal MulticlassTextClassificationTrainer(IHostEnvironment environment, TextClassifierOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate(regression: false);
        this.environment = environment;
        Options = options;
    }

    /// <summary>The options this trainer was created with.</summary>
    public TextClassifierOptions Options { get; }

    /// <inheritdoc/>
    public MulticlassTextClassificationTransformer Fit(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        var train = LabeledTexts.ReadKey(input, Options, out int classCount);
        LabeledTexts? validation = null;
        if (Options.ValidationSet is { } validationSet)
        {
            validation = LabeledTexts.ReadKey(validationSet, Options, out int validationClasses);
            if (validationClasses != classCount)
            {
                throw new ArgumentException(
                    $"The validation set's label '{Options.LabelColumnName}' has {validationClasses} classes, the training data's {classCount}. " +
                    "Map both with the same fitted MapValueToKey.", nameof(input));
            }
        }

        var classes = ClassKeyValues.Read(input.Schema[Options.LabelColumnName], classCount);
        if (Options.ValidationSet is { } mapped)
        {
            // Same count is not enough: a separately fitted mapping numbers the classes in another order.
            var validationClasses = ClassKeyValues.Read(mapped.Schema[Options.LabelColumnName], classCount);
            if (!validationClasses.SameAs(classes))
            {
                throw new ArgumentException(
                    $"The validation set's label '{Options.LabelColumnName}' numbers its classes {validationClasses}, the training " +
                    $"data's {classes}. Map both with the same fitted MapValueToKey.", nameof(input));
            }
        }

        var classifier = ClassifierFitting.Train(environment, Options, Component, train, validation, classCount);
        return new MulticlassTextClassificationTransformer(
            classifier, classes, Options.TextColumnName, Options.SecondTextColumnName, Options.ScoreColumnName, Options.PredictedLabelColumnName,
            Options.InferenceBatchSize);
    }

    /// <inheritdoc/>
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        Options.CheckTextColumns(inputSchema);
        var label = inputSchema.FirstOrDefault(c => c.Name == Options.LabelColumnName);
        if (label.Name is null || label.Kind != SchemaShape.Column.VectorKind.Scalar || !label.IsKey)
        {
            throw new ArgumentOutOfRangeException(nameof(Options.LabelColumnName),
                $"Label column '{Options.LabelColumnName}' must be a scalar key column for multiclass classification" +
                (label.Name is null ? " but is missing." : $" but is {label.Kind} of {label.ItemType}.") +
                $" Add mlContext.Transforms.Conversion.MapValueToKey(\"{Options.LabelColumnName}\") before the trainer.");
        }

        // SchemaShape carries types and annotation kinds, not values: two placeholder classes of the label's key value
        // type give the right shapes (MapKeyToValue after the trainer takes its output type from them).
        var keyValues = label.Annotations?.FirstOrDefault(c => c.Name == AnnotationNames.KeyValues);
        var outputs = MulticlassTextClassificationTransformer.DefineOutputs(
            ClassKeyValues.Placeholder(keyValues?.ItemType), Options.ScoreColumnName, Options.PredictedLabelColumnName);
        return SchemaShapeColumns.Append(inputSchema, OutputColumn.ToShapes(outputs));
    }
}
