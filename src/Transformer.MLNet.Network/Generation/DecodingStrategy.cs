namespace Transformer.MLNet.Network.Generation;

/// <summary>How the next token is chosen.</summary>
public enum DecodingStrategy
{
    /// <summary>The most probable token at every step.</summary>
    Greedy,

    /// <summary>Beam search with <see cref="GenerationOptions.BeamWidth"/> beams and a length penalty.</summary>
    BeamSearch,

    /// <summary>Random draws with temperature, top-k and top-p (nucleus) filtering, from a seed.</summary>
    Sampling,
}
