using TorchSharp;
using Transformer.MLNet.Network.Models;
using Transformer.MLNet.Network.Modules;
using static TorchSharp.torch;

namespace Transformer.MLNet.Network.Generation;

/// <summary>
/// Next-token scores of a <see cref="DecoderOnlyModel"/> continuing prompts of equal length. With the cache the
/// prompt is run once and then one token per step; without it the whole sequence is run at every step.
/// </summary>
internal sealed class DecoderOnlyScorer : INextTokenScorer
{
    private readonly DecoderOnlyModel model;
    private readonly KeyValueCache? cache;
    private readonly ScorerState sequence = new();

    /// <param name="model">The model, in eval mode.</param>
    /// <param name="prompts">(B, T) int64 prompt ids, all of the same length.</param>
    /// <param name="useCache">Decode incrementally with a key/value cache.</param>
    public DecoderOnlyScorer(DecoderOnlyModel model, Tensor prompts, bool useCache)
    {
        this.model = model;
        Device = prompts.device;
        Rows = prompts.shape[0];
        cache = useCache ? model.NewCache() : null;
        sequence.Set(prompts.alias());
    }

    public long Rows { get; private set; }

    public Device Device { get; }

    public Tensor Start() => Logits(sequence.Required);

    public Tensor Advance(Tensor tokens)
    {
        using var column = tokens.unsqueeze(1);                     // (B) -> (B, 1)
        sequence.Set(cat([sequence.Required, column], 1));         // (B, T) -> (B, T + 1)
        return Logits(cache is null ? sequence.Required : column);
    }

    public void Select(Tensor rows)
    {
        sequence.Select(rows);
        cache?.Reorder(rows);
        Rows = rows.shape[0];
    }

    private Tensor Logits(Tensor input)
    {
        using var scope = NewDisposeScope();
        var logits = model.forward(input, cache);                                    // (B, T, V)
        return logits[.., -1].to(ScalarType.Float32).MoveToOuterDisposeScope();      // (B, V)
    }

    public void Dispose()
    {
        cache?.Dispose();
        sequence.Dispose();
    }
}
