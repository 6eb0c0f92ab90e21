namespace Transformer.MLNet.Network.Generation;

/// <summary>
/// How much each target token attended to each source token while it was predicted: the decoder's attention over
/// the encoder output (paper, section 3.2.3), per layer and head, teacher-forced on a given translation.
/// </summary>
/// <remarks>
/// Row <c>t</c> belongs to <see cref="TargetTokens"/>[t], the token predicted at that position (its query is the
/// token before it, or the start token); each row sums to 1 over <see cref="SourceTokens"/>, which end with the
/// end-of-sequence token the encoder sees.
/// </remarks>
public sealed class CrossAttentionMap
{
    private readonly float[,,,] weights;

    internal CrossAttentionMap(string[] sourceTokens, string[] targetTokens, float[,,,] weights)
    {
        SourceTokens = sourceTokens;
        TargetTokens = targetTokens;
        this.weights = weights;
    }

    /// <summary>Source tokens as text (one per encoder position), ending with <c>&lt;/s&gt;</c>.</summary>
    public IReadOnlyList<string> SourceTokens { get; }

    /// <summary>Target tokens as text (one per decoder position), ending with <c>&lt;/s&gt;</c>.</summary>
    public IReadOnlyList<string> TargetTokens { get; }

    /// <summary>Decoder layers.</summary>
    public int Layers => weights.GetLength(0);

    /// <summary>Attention heads per layer.</summary>
    public int Heads => weights.GetLength(1);

    /// <summary>Weight with which target position <paramref name="target"/> attended to source position <paramref name="source"/>.</summary>
    /// <param name="layer">Decoder layer, 0 first.</param>
    /// <param name="head">Head.</param>
    /// <param name="target">Row: index into <see cref="TargetTokens"/>.</param>
    /// <param name="source">Column: index into <see cref="SourceTokens"/>.</param>
    public float this[int layer, int head, int target, int source] => weights[layer, head, target, source];

    /// <summary>The (target × source) weights of one layer, averaged over its heads.</summary>
    /// <param name="layer">Decoder layer; negative counts from the end (default -1, the last layer).</param>
    /// <returns>Rows follow <see cref="TargetTokens"/>, columns <see cref="SourceTokens"/>.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="layer"/> is not a layer of the model.</exception>
    public double[,] Average(int layer = -1)
    {
        int index = layer < 0 ? Layers + layer : layer;
        if (index < 0 || index >= Layers)
            throw new ArgumentOutOfRangeException(nameof(layer), layer, $"The decoder has {Layers} layers: use 0..{Layers - 1} or -1..-{Layers}.");
        var result = new double[TargetTokens.Count, SourceTokens.Count];
        for (int h = 0; h < Heads; h++)
            for (int t = 0; t < TargetTokens.Count; t++)
                for (int s = 0; s < SourceTokens.Count; s++)
                    result[t, s] += weights[index, h, t, s] / (double)Heads;
        return result;
    }
}
