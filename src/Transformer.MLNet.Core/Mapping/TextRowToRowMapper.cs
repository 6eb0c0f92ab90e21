using Microsoft.ML;
using Microsoft.ML.Data;

namespace Transformer.MLNet.Mapping;

/// <summary>Maps one row at a time, for <c>PredictionEngine</c> and ML.NET's composite mappers.</summary>
internal sealed class TextRowToRowMapper : IRowToRowMapper
{
    private readonly TextMappingTransformer transformer;
    private readonly IReadOnlyList<DataViewSchema.Column> inputColumns;

    public TextRowToRowMapper(TextMappingTransformer transformer, DataViewSchema inputSchema, DataViewSchema outputSchema)
    {
        this.transformer = transformer;
        InputSchema = inputSchema;
        OutputSchema = outputSchema;
        inputColumns = transformer.InputColumns(inputSchema);
    }

    public DataViewSchema InputSchema { get; }

    public DataViewSchema OutputSchema { get; }

    public IEnumerable<DataViewSchema.Column> GetDependencies(IEnumerable<DataViewSchema.Column> dependingColumns)
    {
        var needed = new SortedSet<int>();
        foreach (var column in dependingColumns)
        {
            if (column.Index < InputSchema.Count)
                needed.Add(column.Index);
            else
                needed.UnionWith(inputColumns.Select(c => c.Index));
        }
        return needed.Select(i => InputSchema[i]).ToList();
    }

    public DataViewRow GetRow(DataViewRow input, IEnumerable<DataViewSchema.Column> activeColumns)
    {
        ArgumentNullException.ThrowIfNull(input);
        var active = activeColumns.Where(c => c.Index >= InputSchema.Count).Select(c => c.Index - InputSchema.Count).ToHashSet();
        return new MappedRow(transformer, input, OutputSchema, active, active.Count == 0 ? null : transformer.InputReader(input));
    }
}
