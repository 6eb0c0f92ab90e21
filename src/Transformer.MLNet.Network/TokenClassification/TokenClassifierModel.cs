using TorchSharp;
using TorchSharp.Modules;
using TorchSharp.Utils;
using Transformer.MLNet.Network.Bert;
using Transformer.MLNet.Network.Modules;
using static TorchSharp.torch;
using Transformer.MLNet.Network.Kernels;

namespace Transformer.MLNet.Network.TokenClassification;

/// <summary>
/// A BERT encoder with a token-classification head: each token vector plus an embedding of its word's casing, dropout,
/// then one linear layer to label logits. State-dict names follow Hugging Face's token-classification models
/// (<c>bert.*</c>, <c>classifier.*</c>), with <c>casing_embeddings.weight</c> beside them.
/// </summary>
/// <remarks>
/// An uncased encoder such as MiniLM-L6 lower-cases its input, so "Apple" and "apple" reach it as the same pieces; yet
/// capitals are among the strongest cues to a name. The casing embedding gives the head that cue back (the "caps"
/// feature of Collobert et al., 2011, "Natural Language Processing (Almost) from Scratch", section 3.5).
/// </remarks>
internal sealed class TokenClassifierModel : nn.Module
{
    [ComponentName(Name = "bert")]
    private readonly BertModel _bert;

    [ComponentName(Name = "casing_embeddings")]
    private readonly Embedding _casing;

    [ComponentName(Name = "dropout")]
    private readonly InvertedDropout _dropout;

    [ComponentName(Name = "classifier")]
    private readonly Linear _classifier;

    /// <summary>Wraps <paramref name="bert"/> (which this module then owns) with a fresh head.</summary>
    public TokenClassifierModel(BertModel bert, int labelCount, double dropout) : base(nameof(TokenClassifierModel))
    {
        ArgumentNullException.ThrowIfNull(bert);
        _bert = bert;
        _casing = nn.Embedding(WordCasing.Count, bert.Config.ModelDim);
        // Zero: the pretrained token vectors reach the head unchanged at first. Build this module outside a dispose
        // scope: the in-place init returns the parameter itself, which a scope would dispose.
        nn.init.zeros_(_casing.weight!);
        _dropout = new InvertedDropout(dropout);
        _classifier = nn.Linear(bert.Config.ModelDim, labelCount);
        RegisterComponents();
    }

    /// <summary>The encoder's architecture.</summary>
    public Configuration.TransformerConfig EncoderConfig => _bert.Config;

    /// <summary>The encoder's token embedding matrix, (V, D).</summary>
    internal Parameter TokenEmbeddings =>
        named_parameters().Where(p => p.name == "bert.embeddings.word_embeddings.weight").Select(p => p.parameter).FirstOrDefault()
        ?? throw new InvalidOperationException("The encoder has no bert.embeddings.word_embeddings.weight parameter.");

    /// <summary>Label logits of every token of a batch.</summary>
    /// <param name="inputIds">(B, T) int64 token ids.</param>
    /// <param name="attentionMask">(B, T) int64, 1 for real tokens.</param>
    /// <param name="tokenTypeIds">(B, T) int64 segment ids.</param>
    /// <param name="casing">(B, T) int64 <see cref="WordCasing"/> of each token's word.</param>
    /// <returns>(B, T, L) logits.</returns>
    public Tensor forward(Tensor inputIds, Tensor attentionMask, Tensor tokenTypeIds, Tensor casing)
    {
        using var scope = NewDisposeScope();
        var tokens = _bert.ForwardSkippingPadding(inputIds, attentionMask, tokenTypeIds);     // (B, T, D)
        var hidden = _dropout.forward(tokens + _casing.forward(casing));                       // (B, T, D)
        return _classifier.Project(hidden).MoveToOuterDisposeScope();                          // (B, T, D) -> (B, T, L)
    }
}
