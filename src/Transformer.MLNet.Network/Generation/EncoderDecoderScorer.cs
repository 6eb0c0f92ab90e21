using TorchSharp;
using Transformer.MLNet.Network.Models;
using Transformer.MLNet.Network.Modules;
using static TorchSharp.torch;

namespace Transformer.MLNet.Network.Generation;

/// <summary>
/// Next-token scores of an <see cref="EncoderDecoderModel"/>: the padded sources are encoded once; every target
/// starts with bos. With the cache only the newest token is decoded per step (self-attention keys and values of
/// earlier positions and the cross-attention keys and values of the memory are reused); without it the whole
/// prefix is decoded again at every step.
/// </summary>
internal sealed class EncoderDecoderScorer : INextTokenScorer
{
    private readonly EncoderDecoderModel model;
    private readonly KeyValueCache? cache;
    private readonly ScorerState memory = new();
    private readonly ScorerState sourcePadding = new();
    private readonly ScorerState prefix = new();
    private readonly long bosId;

    /// <param name="model">The model, in eval mode.</param>
    /// <param name="source">(B, S) int64 source ids, right-padded with the pad id.</param>
    /// <param name="bosId">First target token.</param>
    /// <param name="useCache">Decode incrementally with a key/value cache.</param>
    public EncoderDecoderScorer(EncoderDecoderModel model, Tensor source, int bosId, bool useCache)
    {
        this.model = model;
        this.bosId = bosId;
        Device = source.device;
        Rows = source.shape[0];
        cache = useCache ? model.NewCache() : null;
        using var scope = NewDisposeScope();
        var padding = model.PaddingMask(source);                  // (B, S)
        sourcePadding.Set(padding.any().ToBoolean() ? padding : null);
        memory.Set(model.Encode(source, sourcePadding.Value));     // (B, S, D)
    }

    public long Rows { get; private set; }

    public Device Device { get; }

    public Tensor Start()
    {
        prefix.Set(full(Rows, 1, bosId, dtype: ScalarType.Int64, device: Device));   // (B, 1)
        return Logits(prefix.Required);
    }

    public Tensor Advance(Tensor tokens)
    {
        using var column = tokens.unsqueeze(1);                  // (B) -> (B, 1)
        prefix.Set(cat([prefix.Required, column], 1));          // (B, T) -> (B, T + 1)
        return Logits(cache is null ? prefix.Required : column);
    }

    public void Select(Tensor rows)
    {
        memory.Select(rows);
        sourcePadding.Select(rows);
        prefix.Select(rows);
        cache?.Reorder(rows);
        Rows = rows.shape[0];
    }

    private Tensor Logits(Tensor targetInput)
    {
        using var scope = NewDisposeScope();
        var hidden = model.Decode(targetInput, memory.Required, sourcePadding.Value, cache);   // (B, T, D)
        var last = hidden[.., ^1..];                                                           // (B, 1, D)
        return model.Project(last).squeeze(1).to(ScalarType.Float32).MoveToOuterDisposeScope();   // (B, V)
    }

    public void Dispose()
    {
        cache?.Dispose();
        memory.Dispose();
        sourcePadding.Dispose();
        prefix.Dispose();
    }
}
