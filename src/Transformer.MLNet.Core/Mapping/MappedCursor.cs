using Microsoft.ML;
using Microsoft.ML.Data;

namespace Transformer.MLNet.Mapping;

/// <summary>A cursor over <see cref="MappedDataView"/>: input columns pass through, mapped ones come from a batch buffer.</summary>
internal sealed class MappedCursor : DataViewRowCursor
{
    private readonly TextMappingTransformer transformer;
    private readonly DataViewRowCursor main;
    private readonly int inputCount;
    private readonly HashSet<int> activeOutputs;
    private readonly BatchBuffer? buffer;

    public MappedCursor(
        TextMappingTransformer transformer, DataViewRowCursor main, DataViewSchema schema, int inputCount,
        HashSet<int> activeOutputs, BatchBuffer? buffer)
    {
        this.transformer = transformer;
        this.main = main;
        Schema = schema;
        this.inputCount = inputCount;
        this.activeOutputs = activeOutputs;
        this.buffer = buffer;
    }

    public override DataViewSchema Schema { get; }

    public override long Position => main.Position;

    public override long Batch => main.Batch;

    public override bool MoveNext() => main.MoveNext();

    public override ValueGetter<DataViewRowId> GetIdGetter() => main.GetIdGetter();

    public override bool IsColumnActive(DataViewSchema.Column column) =>
        column.Index < inputCount ? main.IsColumnActive(main.Schema[column.Index]) : activeOutputs.Contains(column.Index - inputCount);

    public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column)
    {
        if (column.Index < inputCount)
            return main.GetGetter<TValue>(main.Schema[column.Index]);
        if (buffer is null || !activeOutputs.Contains(column.Index - inputCount))
            throw new InvalidOperationException($"Column '{column.Name}' was not requested when this cursor was opened.");
        return transformer.OutputColumns[column.Index - inputCount].MakeGetter<TValue>(buffer.Current);
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            buffer?.Dispose();
            main.Dispose();
        }

        base.Dispose(disposing);
    }
}
