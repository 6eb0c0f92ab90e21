using Microsoft.ML;
using Transformer.MLNet.Network.Generation;
using Transformer.MLNet.Persistence;

namespace Transformer.MLNet.Generation;

/// <summary>
/// Segment of a <see cref="GeneratedTextTransformer"/>: <c>transformer.json</c> (column names and decoding settings)
/// and <c>model.bin</c> (config, tokenizer and weights, as written by <see cref="ITextGenerator.Save"/>).
/// </summary>
/// <typeparam name="TTransformer">The transformer kind.</typeparam>
/// <param name="kind">Segment kind name.</param>
/// <param name="loadGenerator">Reads <c>model.bin</c>.</param>
/// <param name="create">Builds the transformer from the generator, the input and output column names and the decoding settings.</param>
internal sealed class GeneratedTextPersister<TTransformer>(
    string kind, Func<Stream, ITextGenerator> loadGenerator, Func<ITextGenerator, string, string, GenerationOptions, TTransformer> create)
    : ITransformerPersister
    where TTransformer : GeneratedTextTransformer
{
    private const string StateEntry = "transformer.json", ModelEntry = "model.bin";

    public string Kind => kind;

    public bool CanSave(ITransformer transformer) => transformer is TTransformer;

    public void Save(ITransformer transformer, SegmentWriter segment)
    {
        var generated = (TTransformer)transformer;
        segment.WriteJson(StateEntry, new State(generated.InputColumnName, generated.OutputColumnName, generated.Decoding));
        using var use = generated.EnterUse();
        segment.Write(ModelEntry, generated.Generator.Save);
    }

    public ITransformer Load(SegmentReader segment)
    {
        var state = segment.ReadJson<State>(StateEntry);
        segment.Require(!string.IsNullOrEmpty(state.InputColumnName), StateEntry, nameof(State.InputColumnName), Shown(state.InputColumnName), "must name a column");
        segment.Require(!string.IsNullOrEmpty(state.OutputColumnName), StateEntry, nameof(State.OutputColumnName), Shown(state.OutputColumnName), "must name a column");
        segment.Require(state.Decoding is not null, StateEntry, nameof(State.Decoding), "null", "must hold the decoding settings");
        using var stream = segment.Open(ModelEntry);
        ITextGenerator generator;
        try
        {
            generator = loadGenerator(stream);
        }
        catch (InvalidDataException e)
        {
            // Other failures of the loader (a stream cut short, garbage) come out of SegmentReader.Load naming this entry.
            throw new InvalidDataException(
                $"{segment.Folder}{ModelEntry}: {e.Message.TrimEnd('.')}. The entry was edited or is damaged; save the pipeline again.", e);
        }

        try
        {
            return create(generator, state.InputColumnName, state.OutputColumnName, state.Decoding);
        }
        catch
        {
            generator.Dispose();
            throw;
        }
    }

    private static string Shown(string? value) => value is null ? "null" : $"'{value}'";

    // Nullable: a hand-edited entry may lack any of them.
    private sealed record State(string? InputColumnName, string? OutputColumnName, GenerationOptions? Decoding);
}
