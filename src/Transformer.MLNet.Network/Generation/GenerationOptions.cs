namespace Transformer.MLNet.Network.Generation;

/// <summary>Settings of one generation call.</summary>
public sealed record GenerationOptions
{
    /// <summary>How the next token is chosen (default greedy).</summary>
    public DecodingStrategy Strategy { get; init; } = DecodingStrategy.Greedy;

    /// <summary>Most tokens generated per sequence, end-of-sequence included (default 64).</summary>
    public int MaxNewTokens { get; init; } = 64;

    /// <summary>Beams per input for <see cref="DecodingStrategy.BeamSearch"/> (default 4).</summary>
    public int BeamWidth { get; init; } = 4;

    /// <summary>
    /// α of the GNMT length penalty ((5 + length) / 6)^α that beam scores are divided by (Wu et al. 2016, eq. 14);
    /// 0 ranks by raw log-probability, larger values favour longer outputs (default 0.6).
    /// </summary>
    public double LengthPenalty { get; init; } = 0.6;

    /// <summary>Logits are divided by it before sampling; below 1 sharpens, above 1 flattens (default 1).</summary>
    public double Temperature { get; init; } = 1.0;

    /// <summary>Sample only among the k most probable tokens; 0 turns the filter off (default 0).</summary>
    public int TopK { get; init; }

    /// <summary>Sample only among the most probable tokens whose probabilities sum to p; 1 turns it off (default 1).</summary>
    public double TopP { get; init; } = 1.0;

    /// <summary>Seed of the sampling draws: the same seed gives the same output (default 0).</summary>
    public int Seed { get; init; }

    /// <summary>Reuse attention keys and values of earlier steps instead of recomputing the prefix (default true).</summary>
    public bool UseCache { get; init; } = true;

    /// <summary>Inputs decoded together, padded to the longest (default 32).</summary>
    public int BatchSize { get; init; } = 32;

    /// <summary>Most beams per input: each beam holds a row of vocabulary-sized scores per step, so far wider beams
    /// would exhaust memory (published systems use 4 to 12).</summary>
    internal const int MaxBeamWidth = 256;

    /// <summary>Most inputs decoded together.</summary>
    internal const int MaxBatchSize = 4096;

    /// <summary>Checks the settings and throws an error naming the offending option and value.</summary>
    /// <returns>This instance.</returns>
    /// <exception cref="ArgumentException">A setting is out of range.</exception>
    public GenerationOptions Validate()
    {
        static void Require(bool ok, string option, object value, string rule)
        {
            if (!ok)
                throw new ArgumentException($"GenerationOptions.{option} = {value} is invalid: {rule}.", option);
        }

        Require(Enum.IsDefined(Strategy), nameof(Strategy), Strategy, "must be Greedy, BeamSearch or Sampling");
        Require(MaxNewTokens >= 1, nameof(MaxNewTokens), MaxNewTokens, "must be 1 or more");
        Require(BeamWidth is >= 1 and <= MaxBeamWidth, nameof(BeamWidth), BeamWidth, $"must be between 1 and {MaxBeamWidth}");
        Require(double.IsFinite(LengthPenalty), nameof(LengthPenalty), LengthPenalty, "must be a finite number");
        Require(Temperature > 0 && double.IsFinite(Temperature), nameof(Temperature), Temperature, "must be a positive finite number");
        Require(TopK >= 0, nameof(TopK), TopK, "must be 0 (off) or positive");
        Require(TopP is > 0 and <= 1, nameof(TopP), TopP, "must be in (0, 1]");
        Require(BatchSize is >= 1 and <= MaxBatchSize, nameof(BatchSize), BatchSize, $"must be between 1 and {MaxBatchSize}");
        return this;
    }
}
