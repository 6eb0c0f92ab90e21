using static TorchSharp.torch;

namespace Transformer.MLNet.Network.Generation;

/// <summary>
/// The model as the decoding algorithms see it: a batch of growing token sequences ("rows") and the logits of
/// each row's next token. Implementations hide the encoder memory and whether a key/value cache is used, so
/// greedy search, beam search and sampling are written once and run with or without the cache.
/// </summary>
public interface INextTokenScorer : IDisposable
{
    /// <summary>Number of rows now.</summary>
    long Rows { get; }

    /// <summary>Where the model runs; token tensors passed in must live there.</summary>
    Device Device { get; }

    /// <summary>Logits of the token after each row's initial prefix (the prompt, or bos).</summary>
    /// <returns>(rows, V) float32 logits, owned by the caller's dispose scope.</returns>
    Tensor Start();

    /// <summary>Appends one token to every row and returns the logits of the token after it.</summary>
    /// <param name="tokens">(rows) int64: the token appended to each row.</param>
    /// <returns>(rows, V) float32 logits, owned by the caller's dispose scope.</returns>
    Tensor Advance(Tensor tokens);

    /// <summary>Keeps the given rows, in the given order (repeats allowed): beam reordering and dropping finished rows.</summary>
    /// <param name="rows">(rows′) int64 indices of current rows.</param>
    void Select(Tensor rows);
}
