using Microsoft.ML;
using Microsoft.ML.Data;
using Transformer.MLNet.Network.Runtime;

namespace Transformer.MLNet.Mapping;

/// <summary>
/// Base of this library's transformers: each reads one text column (or a vector of words) and adds columns computed by a network, a batch
/// of rows per forward pass. Transformation is lazy; the transformer can be used from several threads at once, and
/// it implements <see cref="IRowToRowMapper"/> so that <c>PredictionEngine</c> works. <see cref="Dispose()"/> is safe
/// while other threads score: it waits for the forward passes running, then frees the network; scoring started
/// afterwards (a cursor's next window, a <c>PredictionEngine</c> call) throws <see cref="ObjectDisposedException"/>.
/// </summary>
/// <remarks>
/// <see cref="ICanSaveModel.Save"/> is not supported: ML.NET's model format is closed to other libraries. Save a whole
/// pipeline with <c>mlContext.Model.SavePipeline(...)</c> and load it with <c>mlContext.Model.LoadPipeline(...)</c>.
/// </remarks>
public abstract class TextMappingTransformer : ITransformer, IDisposable
{
    private readonly Lazy<DataViewSchema> outputColumnsSchema;
    private readonly UsageGuard lifetime;

    private protected TextMappingTransformer(string inputColumnName, int batchSize)
    {
        ArgumentException.ThrowIfNullOrEmpty(inputColumnName);
        CheckInferenceBatchSize(batchSize);

        InputColumnName = inputColumnName;
        BatchSize = batchSize;
        outputColumnsSchema = new Lazy<DataViewSchema>(() => OutputColumn.ToSchema(OutputColumns));
        lifetime = new UsageGuard(GetType());
    }

    /// <summary>The text column this transformer reads.</summary>
    public string InputColumnName { get; }

    /// <summary>
    /// The option that named <see cref="InputColumnName"/> where the user set it (e.g. <c>TextColumnName</c> of a
    /// classifier's options), so that a missing or mistyped column at prediction time is named as the user knows it.
    /// </summary>
    private protected virtual string InputOptionName => nameof(InputColumnName);

    /// <summary>The option that named the second text column of pair models.</summary>
    private protected virtual string SecondInputOptionName => "SecondTextColumnName";

    /// <summary>How many rows go through the network in one forward pass.</summary>
    public int BatchSize { get; }

    /// <summary>
    /// Rows a cursor reads ahead and hands to <see cref="Map"/> at once. The network splits them into forward passes of
    /// <see cref="BatchSize"/> texts of similar length, so a window of several batches wastes less compute on padding.
    /// </summary>
    internal int ReadAheadRows => BatchSize * ReadAheadBatches;

    /// <summary>Batches per read-ahead window: wide enough that length sorting leaves little padding and worker
    /// threads start rarely; the window holds only texts and their output vectors.</summary>
    internal const int ReadAheadBatches = 32;

    /// <summary>The largest inference batch accepted: bigger batches gain no speed and their read-ahead window
    /// (<see cref="ReadAheadBatches"/> batches of texts) would not fit in memory.</summary>
    internal const int MaxInferenceBatchSize = 4096;

    /// <summary>Throws, naming the <c>InferenceBatchSize</c> option, unless 1 ≤ <paramref name="batchSize"/> ≤ <see cref="MaxInferenceBatchSize"/>.</summary>
    internal static void CheckInferenceBatchSize(int batchSize)
    {
        if (batchSize is < 1 or > MaxInferenceBatchSize)
        {
            throw new ArgumentOutOfRangeException(
                "InferenceBatchSize", batchSize, $"InferenceBatchSize = {batchSize} is invalid: it must be between 1 and {MaxInferenceBatchSize}.");
        }
    }

    /// <summary>Always true: rows can be mapped one at a time, as <c>PredictionEngine</c> does.</summary>
    public bool IsRowToRowMapper => true;

    /// <summary>Forward passes run by cursors so far (for tests of batching).</summary>
    internal long BatchesMapped;

    /// <summary>The columns this transformer adds, in order.</summary>
    internal abstract IReadOnlyList<OutputColumn> OutputColumns { get; }

    /// <summary>The added columns as a schema of their own (types and annotations).</summary>
    internal DataViewSchema OutputColumnsSchema => outputColumnsSchema.Value;

    /// <summary>
    /// The network's output for each text, in order: one object per row, from which each of <see cref="OutputColumns"/>
    /// selects its value. Must be safe to call from several threads.
    /// </summary>
    internal abstract IReadOnlyList<object> Map(IReadOnlyList<string> texts);

    /// <summary>Whether the input column may also be a vector of text (a sentence as words) rather than text.</summary>
    internal virtual bool AcceptsWords => false;

    /// <summary>
    /// The network's output for each input value, in order: a <see cref="string"/> per row, or with <see cref="AcceptsWords"/>
    /// a <see cref="string"/> array of words.
    /// </summary>
    internal virtual IReadOnlyList<object> MapValues(IReadOnlyList<object> values) => Map([.. values.Cast<string>()]);

    /// <summary>The input column in <paramref name="schema"/>, checked.</summary>
    internal DataViewSchema.Column FindInput(DataViewSchema schema) => TextColumn.Find(schema, InputColumnName, InputOptionName, AcceptsWords);

    /// <summary>The second text column of a transformer that reads text pairs, or null (the default) for single texts.</summary>
    internal virtual string? SecondInputColumnName => null;

    /// <summary>The network's output for each text pair, in order (one object per row, as <see cref="Map"/>); only for
    /// transformers with a <see cref="SecondInputColumnName"/>.</summary>
    internal virtual IReadOnlyList<object> MapPairs(IReadOnlyList<string> texts, IReadOnlyList<string> secondTexts) =>
        throw new NotSupportedException($"{GetType().Name} reads single texts, not pairs.");

    /// <summary>The network's output for each input row: single values (texts or words) or pairs.</summary>
    /// <exception cref="ObjectDisposedException">The transformer has been disposed.</exception>
    internal IReadOnlyList<object> MapInputs(IReadOnlyList<TextInput> inputs)
    {
        using var use = EnterUse();
        return SecondInputColumnName is null
            ? MapValues([.. inputs.Select(i => i.Value)])
            : MapPairs([.. inputs.Select(i => (string)i.Value)], [.. inputs.Select(i => i.Second!)]);
    }

    /// <summary>
    /// Enters a use of the network, for every call that runs it (dispose the result when done): any number of threads
    /// may be inside at once, and <see cref="Dispose()"/> waits for them before it frees the network.
    /// </summary>
    /// <exception cref="ObjectDisposedException">The transformer has been disposed.</exception>
    internal UsageGuard.Use EnterUse() => lifetime.Enter();

    /// <summary>The input columns read, checked: the text column, then the second text column of a pair transformer.</summary>
    internal IReadOnlyList<DataViewSchema.Column> InputColumns(DataViewSchema schema) => SecondInputColumnName is { } second
        ? [FindInput(schema), TextColumn.Find(schema, second, SecondInputOptionName)]
        : [FindInput(schema)];

    /// <summary>Reads the current row's input; a pair's second text must not be empty (the error names the column and row).</summary>
    internal Func<TextInput> InputReader(DataViewRow row)
    {
        var columns = InputColumns(row.Schema);
        var readValue = TextColumn.ValueReader(row, columns[0]);
        if (columns.Count == 1)
            return () => new TextInput(readValue(), null);
        var readSecond = TextColumn.SecondTextReader(row, columns[1], SecondInputOptionName);
        return () => new TextInput(readValue(), readSecond());
    }

    /// <inheritdoc/>
    public DataViewSchema GetOutputSchema(DataViewSchema inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        InputColumns(inputSchema);
        var builder = new DataViewSchema.Builder();
        builder.AddColumns(inputSchema);
        foreach (var column in OutputColumns)
            builder.AddColumn(column.Name, column.Type, column.Annotations);
        return builder.ToSchema();
    }

    /// <inheritdoc/>
    public IDataView Transform(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        lifetime.ThrowIfDisposed();
        return new MappedDataView(this, input, GetOutputSchema(input.Schema));
    }

    /// <inheritdoc/>
    public IRowToRowMapper GetRowToRowMapper(DataViewSchema inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        lifetime.ThrowIfDisposed();
        return new TextRowToRowMapper(this, inputSchema, GetOutputSchema(inputSchema));
    }

    /// <summary>Not supported: throws <see cref="NotSupportedException"/> that names the method to use instead.</summary>
    void ICanSaveModel.Save(ModelSaveContext ctx) => throw new NotSupportedException(SaveAdvice);

    /// <summary>Why <c>mlContext.Model.Save</c> refuses this transformer, and what to do instead.</summary>
    private protected virtual string SaveAdvice =>
        $"{GetType().Name} cannot be saved with mlContext.Model.Save: ML.NET's model format is closed to other libraries. " +
        "Save the whole pipeline with mlContext.Model.SavePipeline(model, inputSchema, path) " +
        "and load it with mlContext.Model.LoadPipeline(path, out inputSchema).";

    /// <summary>
    /// Exports the network to ONNX for deployment without TorchSharp: <c>model.onnx</c> (opset 17, inputs
    /// <c>input_ids</c>, <c>attention_mask</c>, <c>token_type_ids</c> as Hugging Face's exports name them, dynamic
    /// batch and sequence axes), <c>vocab.txt</c> and <c>onnx_export.json</c> (task, token limit, labels, scaling).
    /// Encoder models export: sentence embeddings, text classifiers (binary, multiclass, pairs), text regression and
    /// cross-encoders, and token classifiers.
    /// </summary>
    /// <param name="folder">Created if missing; existing export files are replaced.</param>
    /// <returns>The settings written to <c>onnx_export.json</c>.</returns>
    /// <exception cref="NotSupportedException">The model is a translation or text-generation model.</exception>
    public Network.Export.OnnxExportManifest ExportOnnx(string folder)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(folder);
        using var use = EnterUse();
        return ExportOnnxCore(folder);
    }

    private protected virtual Network.Export.OnnxExportManifest ExportOnnxCore(string folder) => throw new NotSupportedException(
        $"{GetType().Name} cannot be exported to ONNX: only encoder models export (sentence embeddings, text classifiers, " +
        "text regression and cross-encoders, token classifiers). Translation and text generation decode step by step " +
        "with a key/value cache, which this exporter does not write; keep them on TorchSharp and save them with " +
        "mlContext.Model.SavePipeline.");

    /// <summary>
    /// Releases the network once the forward passes running on other threads have finished; scoring afterwards throws
    /// <see cref="ObjectDisposedException"/>. Calling it again does nothing.
    /// </summary>
    public void Dispose()
    {
        lifetime.Dispose(() => Dispose(disposing: true));
        GC.SuppressFinalize(this);
    }

    /// <summary>Releases the network when <paramref name="disposing"/>; called once, when no call is using it.</summary>
    protected abstract void Dispose(bool disposing);
}
