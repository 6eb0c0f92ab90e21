using Microsoft.ML;

namespace Transformer.MLNet.Mapping;

/// <summary>The lazy result of <see cref="TextMappingTransformer.Transform"/>: the input plus the mapped columns.</summary>
internal sealed class MappedDataView : IDataView
{
    private readonly TextMappingTransformer transformer;
    private readonly IDataView input;
    private readonly IReadOnlyList<DataViewSchema.Column> inputColumns;

    public MappedDataView(TextMappingTransformer transformer, IDataView input, DataViewSchema outputSchema)
    {
        this.transformer = transformer;
        this.input = input;
        Schema = outputSchema;
        inputColumns = transformer.InputColumns(input.Schema);
    }

    /// <summary>Rows come in the input's order: the read-ahead cursor must see the same sequence.</summary>
    public bool CanShuffle => false;

    public DataViewSchema Schema { get; }

    public long? GetRowCount() => input.GetRowCount();

    public DataViewRowCursor GetRowCursor(IEnumerable<DataViewSchema.Column> columnsNeeded, Random? rand = null)
    {
        var needed = columnsNeeded.ToList();
        int inputCount = input.Schema.Count;
        var inputNeeded = needed.Where(c => c.Index < inputCount).Select(c => input.Schema[c.Index]).ToList();
        var activeOutputs = needed.Where(c => c.Index >= inputCount).Select(c => c.Index - inputCount).ToHashSet();
        var main = input.GetRowCursor(inputNeeded);
        var buffer = activeOutputs.Count == 0 ? null : new BatchBuffer(transformer, main, input, inputColumns);
        return new MappedCursor(transformer, main, Schema, inputCount, activeOutputs, buffer);
    }

    public DataViewRowCursor[] GetRowCursorSet(IEnumerable<DataViewSchema.Column> columnsNeeded, int n, Random? rand = null) =>
        [GetRowCursor(columnsNeeded, rand)];
}
