using Microsoft.ML;
using Transformer.MLNet.Mapping;
using Transformer.MLNet.Network.Export;
using Transformer.MLNet.Schema;

namespace Transformer.MLNet.Onnx;

/// <summary>
/// Runs a Transformer.MLNet ONNX export on ONNX Runtime. Nothing is learned: <see cref="Fit"/> checks the input
/// columns and opens the export.
/// </summary>
public sealed class OnnxTextEstimator : IEstimator<OnnxTextTransformer>
{
    internal OnnxTextEstimator(OnnxTextOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        Options = options.Clone();
        Options.Validate();
    }

    /// <summary>The options (a copy of those given).</summary>
    public OnnxTextOptions Options { get; }

    /// <summary>Checks the text columns and opens the export folder.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A text column is missing or not text.</exception>
    /// <exception cref="FileNotFoundException">A file of the export is missing.</exception>
    /// <exception cref="InvalidDataException">The export is damaged or not a Transformer.MLNet export.</exception>
    public OnnxTextTransformer Fit(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        TextColumn.Find(input.Schema, Options.InputColumnName, nameof(Options.InputColumnName));
        if (Options.SecondTextColumnName is { } second)
            TextColumn.Find(input.Schema, second, nameof(Options.SecondTextColumnName));
        var session = OnnxExportSession.Open(Options.ModelFolder, Options.Threads);
        try
        {
            return new OnnxTextTransformer(session, Options);
        }
        catch
        {
            session.Dispose();
            throw;
        }
    }

    /// <summary>The input schema with the columns the export adds (read from its <c>onnx_export.json</c>).</summary>
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        TextColumn.Check(inputSchema, Options.InputColumnName, nameof(Options.InputColumnName));
        if (Options.SecondTextColumnName is { } second)
            TextColumn.Check(inputSchema, second, nameof(Options.SecondTextColumnName));
        string path = Path.Combine(Options.ModelFolder, OnnxExportManifest.FileName);
        if (!File.Exists(path))
            throw new FileNotFoundException($"'{Options.ModelFolder}' (ModelFolder) has no {OnnxExportManifest.FileName}; write the folder with ExportOnnx(folder).", path);
        var manifest = OnnxExportManifest.FromJson(File.ReadAllText(path));
        return SchemaShapeColumns.Append(inputSchema, OutputColumn.ToShapes(OnnxTextTransformer.DefineOutputs(manifest, Options).Columns));
    }
}
