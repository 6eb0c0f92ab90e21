using Transformer.MLNet.Mapping;
using Transformer.MLNet.Network.Export;
using Transformer.MLNet.Schema;

namespace Transformer.MLNet.Onnx;

/// <summary>
/// A model exported by Transformer.MLNet (<c>ExportOnnx</c>), run on ONNX Runtime as an ML.NET transformer. It adds the
/// columns the TorchSharp transformer of the same model adds: a sentence embedding (a float vector); a binary
/// classifier's <c>Score</c>, <c>Probability</c> and boolean <c>PredictedLabel</c>; a multiclass classifier's
/// <c>Score</c> (class probabilities) and key <c>PredictedLabel</c> whose key values are the label's (numbers or
/// Booleans in their own type where the export says so, else the class names); a regressor's or
/// cross-encoder's <c>Score</c>. ML.NET's evaluators and <c>PredictionEngine</c> work on them. Rows are read lazily,
/// a window at a time, tokenized exactly as in training and run in length-sorted batches.
/// </summary>
public sealed class OnnxTextTransformer : TextMappingTransformer
{
    private readonly OnnxExportSession _session;
    private readonly Func<float[], float[]> _fromOutput;

    internal OnnxTextTransformer(OnnxExportSession session, OnnxTextOptions options)
        : base(options.InputColumnName, options.InferenceBatchSize)
    {
        _session = session;
        var manifest = session.Manifest;
        if (manifest.Pairs != options.SecondTextColumnName is not null)
        {
            throw new ArgumentException(manifest.Pairs
                ? $"'{session.Folder}' holds a model of text pairs; name the second text column (SecondTextColumnName)."
                : $"'{session.Folder}' holds a model of single texts, but a second text column ('{options.SecondTextColumnName}') is named; leave SecondTextColumnName null.",
                nameof(options));
        }

        SecondTextColumnName = options.SecondTextColumnName;
        ModelFolder = session.Folder;
        Task = manifest.Task;
        (OutputColumns, ClassNames, _fromOutput) = DefineOutputs(manifest, options);
    }

    /// <summary>
    /// The columns an export adds, the class names of a classifier, and how a row of the graph's output becomes the
    /// columns' values.
    /// </summary>
    internal static (IReadOnlyList<OutputColumn> Columns, IReadOnlyList<string>? ClassNames, Func<float[], float[]> FromOutput) DefineOutputs(
        OnnxExportManifest manifest, OnnxTextOptions options)
    {
        switch (manifest.Task)
        {
            case OnnxExportTask.SentenceEmbedding:
                return ([OutputColumn.Vector(options.OutputColumnName, manifest.OutputSize)], null, row => row);
            case OnnxExportTask.TextRegression:
                return (ClassifierColumns.Regression(options.ScoreColumnName), null, row => row);
            case OnnxExportTask.TextClassification when manifest.Labels is null && manifest.OutputSize == 2:
                return (ClassifierColumns.Binary(options.ScoreColumnName, options.ProbabilityColumnName, options.PredictedLabelColumnName),
                    ["False", "True"], ClassifierColumns.BinaryFromLogits);
            case OnnxExportTask.TextClassification:
                IReadOnlyList<string> names = manifest.Labels
                    ?? [.. Enumerable.Range(1, manifest.OutputSize).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture))];
                return (ClassifierColumns.Multiclass(KeyValues(manifest, names), options.ScoreColumnName, options.PredictedLabelColumnName), names,
                    ClassifierColumns.Softmax);
            default:
                throw new NotSupportedException($"Exports of task {manifest.Task} do not run in Transformer.MLNet.Onnx.");
        }
    }

    // The class names as text key values, or the label's own values where the export says their type.
    private static ClassKeyValues KeyValues(OnnxExportManifest manifest, IReadOnlyList<string> names)
    {
        if (manifest.LabelType is null || manifest.LabelValues is null)
            return ClassKeyValues.Text(names);
        if (ClassKeyValues.TryParse(manifest.LabelType, manifest.LabelValues, names, out var typed, out string? invalid))
            return typed;
        throw new InvalidDataException(invalid is null
            ? $"{OnnxExportManifest.FileName}: label_type = \"{manifest.LabelType}\" is not one of {string.Join(", ", ClassKeyValues.TypeNames)}. Export the model again."
            : $"{OnnxExportManifest.FileName}: label_values holds \"{invalid}\", which is not a {manifest.LabelType}. Export the model again.");
    }

    /// <summary>The export folder the model was read from.</summary>
    public string ModelFolder { get; }

    /// <summary>What the exported model computes.</summary>
    public OnnxExportTask Task { get; }

    /// <summary>The second text column of a model of text pairs (e.g. a cross-encoder), or null.</summary>
    public string? SecondTextColumnName { get; }

    /// <summary>A classifier's class names in the order of its scores (a binary classifier: False, True); null otherwise.</summary>
    public IReadOnlyList<string>? ClassNames { get; }

    /// <summary>Texts run so far that had more tokens than the model's limit and were cut (the first tokens are kept).</summary>
    public long TruncatedTextCount => _session.TruncatedTextCount;

    internal override IReadOnlyList<OutputColumn> OutputColumns { get; }

    internal override string? SecondInputColumnName => SecondTextColumnName;

    internal override IReadOnlyList<object> Map(IReadOnlyList<string> texts) =>
        _session.Run(texts, BatchSize).Select(row => (object)_fromOutput(row)).ToArray();

    internal override IReadOnlyList<object> MapPairs(IReadOnlyList<string> texts, IReadOnlyList<string> secondTexts) =>
        _session.RunPairs(texts, secondTexts, BatchSize).Select(row => (object)_fromOutput(row)).ToArray();

    private protected override string SaveAdvice =>
        $"{nameof(OnnxTextTransformer)} cannot be saved with mlContext.Model.Save: ML.NET's model format is closed to other " +
        "libraries. It learns nothing when fitted, so recreate it from its export folder with " +
        $"mlContext.Transforms.Text.ApplyOnnxExport(\"{ModelFolder}\", ...) and save the transformers that follow it with mlContext.Model.Save.";

    private protected override OnnxExportManifest ExportOnnxCore(string folder) => throw new NotSupportedException(
        $"{nameof(OnnxTextTransformer)} already runs an export; copy its folder '{ModelFolder}' instead of exporting it again.");

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        if (disposing)
            _session.Dispose();
    }
}
