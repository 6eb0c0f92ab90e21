namespace Transformer.MLNet.Network.Metrics;

/// <summary>How <see cref="CorpusBleu"/> splits text into words, named as in sacreBLEU's <c>--tokenize</c> option.</summary>
public enum BleuTokenization
{
    /// <summary>mteval-v13a.pl (WMT's standard and sacreBLEU's default): separates punctuation and symbols.</summary>
    Mteval13a,

    /// <summary>Split on whitespace only.</summary>
    None,

    /// <summary>mteval-v14.pl "international": separates Unicode punctuation and symbols.</summary>
    International,
}
