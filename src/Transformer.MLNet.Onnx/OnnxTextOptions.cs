using Transformer.MLNet.Schema;

namespace Transformer.MLNet.Onnx;

/// <summary>Options of <see cref="OnnxCatalogExtensions.ApplyOnnxExport(Microsoft.ML.TransformsCatalog.TextTransforms, OnnxTextOptions)"/>.</summary>
public sealed class OnnxTextOptions
{
    /// <summary>The export folder: <c>model.onnx</c>, <c>vocab.txt</c> and <c>onnx_export.json</c>, as <c>ExportOnnx(folder)</c> writes them.</summary>
    public string ModelFolder { get; set; } = "";

    /// <summary>The text column read.</summary>
    public string InputColumnName { get; set; } = "Text";

    /// <summary>The second text column of a model of text pairs (a pair classifier or cross-encoder); null for single texts.</summary>
    public string? SecondTextColumnName { get; set; }

    /// <summary>Sentence embeddings: the vector column written.</summary>
    public string OutputColumnName { get; set; } = ScoreColumnNames.Features;

    /// <summary>Classifiers and regressors: the score column written.</summary>
    public string ScoreColumnName { get; set; } = ScoreColumnNames.Score;

    /// <summary>Binary classifiers: the probability column written.</summary>
    public string ProbabilityColumnName { get; set; } = ScoreColumnNames.Probability;

    /// <summary>Classifiers: the predicted label column written.</summary>
    public string PredictedLabelColumnName { get; set; } = ScoreColumnNames.PredictedLabel;

    /// <summary>Texts per ONNX Runtime call; rows are sorted by length within a read-ahead window first.</summary>
    public int InferenceBatchSize { get; set; } = 32;

    /// <summary>ONNX Runtime's intra-op threads; 0 (the default) lets it choose one per physical core.</summary>
    public int Threads { get; set; }

    internal void Validate()
    {
        if (string.IsNullOrWhiteSpace(ModelFolder))
            throw new ArgumentException("ModelFolder is empty; set it to the folder ExportOnnx(folder) wrote.", nameof(ModelFolder));
        foreach (var (name, value) in new[]
        {
            (nameof(InputColumnName), InputColumnName), (nameof(OutputColumnName), OutputColumnName), (nameof(ScoreColumnName), ScoreColumnName),
            (nameof(ProbabilityColumnName), ProbabilityColumnName), (nameof(PredictedLabelColumnName), PredictedLabelColumnName),
        })
        {
            if (string.IsNullOrWhiteSpace(value))
                throw new ArgumentException($"{name} is empty; name a column.", name);
        }

        if (SecondTextColumnName is { } second && (string.IsNullOrWhiteSpace(second) || second == InputColumnName))
        {
            throw new ArgumentException(
                $"SecondTextColumnName '{second}' must name another text column than InputColumnName '{InputColumnName}', or be null for single texts.",
                nameof(SecondTextColumnName));
        }

        if (InferenceBatchSize is < 1 or > 4096)
            throw new ArgumentOutOfRangeException(nameof(InferenceBatchSize), InferenceBatchSize, "InferenceBatchSize must be between 1 and 4096.");
        if (Threads is < 0 or > 1024)
            throw new ArgumentOutOfRangeException(nameof(Threads), Threads, "Threads must be 0 (ONNX Runtime's choice) or a positive thread count up to 1024.");
    }

    internal OnnxTextOptions Clone() => (OnnxTextOptions)MemberwiseClone();
}
