using Microsoft.ML;
using Microsoft.ML.Data;

namespace Transformer.MLNet.Mapping;

/// <summary>One mapped row over a caller's input row; the output is computed once per distinct input value.</summary>
internal sealed class MappedRow : DataViewRow
{
    private readonly TextMappingTransformer transformer;
    private readonly DataViewRow input;
    private readonly HashSet<int> activeOutputs;
    private readonly Func<TextInput>? readInput;
    private TextInput? cachedInput;
    private object cachedOutput = new();

    public MappedRow(TextMappingTransformer transformer, DataViewRow input, DataViewSchema schema, HashSet<int> activeOutputs, Func<TextInput>? readInput)
    {
        this.transformer = transformer;
        this.input = input;
        Schema = schema;
        this.activeOutputs = activeOutputs;
        this.readInput = readInput;
    }

    public override DataViewSchema Schema { get; }

    public override long Position => input.Position;

    public override long Batch => input.Batch;

    public override ValueGetter<DataViewRowId> GetIdGetter() => input.GetIdGetter();

    public override bool IsColumnActive(DataViewSchema.Column column) =>
        column.Index < input.Schema.Count ? input.IsColumnActive(input.Schema[column.Index]) : activeOutputs.Contains(column.Index - input.Schema.Count);

    public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column)
    {
        int inputCount = input.Schema.Count;
        if (column.Index < inputCount)
            return input.GetGetter<TValue>(input.Schema[column.Index]);
        if (!activeOutputs.Contains(column.Index - inputCount))
            throw new InvalidOperationException($"Column '{column.Name}' was not requested when this row was created.");
        return transformer.OutputColumns[column.Index - inputCount].MakeGetter<TValue>(Current);
    }

    // Keyed on the input value rather than the position: a PredictionEngine may refill the same input row for every call.
    private object Current()
    {
        var value = readInput!();
        if (!value.SameAs(cachedInput))
        {
            cachedOutput = transformer.MapInputs([value])[0];
            cachedInput = value;
        }

        return cachedOutput;
    }
}
