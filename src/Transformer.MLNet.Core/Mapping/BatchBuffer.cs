using Microsoft.ML;

namespace Transformer.MLNet.Mapping;

/// <summary>
/// Serves the network output of the row a cursor is on. A second cursor over the same input reads ahead a window of
/// inputs (32 batches), the network maps them in batched forward passes, and the rows are served from the buffer
/// until the main cursor leaves it — never one forward pass per row.
/// </summary>
internal sealed class BatchBuffer : IDisposable
{
    private readonly TextMappingTransformer transformer;
    private readonly DataViewRowCursor main;
    private readonly IDataView input;
    private readonly IReadOnlyList<DataViewSchema.Column> inputColumns;
    private DataViewRowCursor? lookahead;
    private Func<TextInput>? readInput;
    private IReadOnlyList<object> outputs = [];
    private long start = -1;

    public BatchBuffer(TextMappingTransformer transformer, DataViewRowCursor main, IDataView input, IReadOnlyList<DataViewSchema.Column> inputColumns)
    {
        this.transformer = transformer;
        this.main = main;
        this.input = input;
        this.inputColumns = inputColumns;
    }

    /// <summary>The network output of the main cursor's current row.</summary>
    public object Current()
    {
        long position = main.Position;
        if (position < 0)
            throw new InvalidOperationException("The cursor is not on a row: call MoveNext first.");
        if (position < start || position >= start + outputs.Count)
            Fill(position);
        return outputs[(int)(position - start)];
    }

    private void Fill(long position)
    {
        // Both cursors walk the input in the same deterministic order, so positions match row for row.
        if (lookahead is null || lookahead.Position >= position)
        {
            lookahead?.Dispose();
            lookahead = input.GetRowCursor(inputColumns);
            readInput = transformer.InputReader(lookahead);
        }

        while (lookahead.Position < position - 1 && lookahead.MoveNext())
        {
        }

        var values = new List<TextInput>(transformer.ReadAheadRows);
        while (values.Count < transformer.ReadAheadRows && lookahead.MoveNext())
            values.Add(readInput!());
        if (values.Count == 0)
            throw new InvalidOperationException($"Row {position} of the input could not be read again for column '{inputColumns[0].Name}'.");

        outputs = transformer.MapInputs(values);
        Interlocked.Increment(ref transformer.BatchesMapped);
        start = position;
    }

    public void Dispose() => lookahead?.Dispose();
}
