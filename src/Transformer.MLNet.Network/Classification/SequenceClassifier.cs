using TorchSharp;
using TorchSharp.Modules;
using TorchSharp.Utils;
using Transformer.MLNet.Network.Bert;
using Transformer.MLNet.Network.Modules;
using static TorchSharp.torch;
using Transformer.MLNet.Network.Kernels;

namespace Transformer.MLNet.Network.Classification;

/// <summary>
/// A BERT encoder with a classification head: mean of the token states over the real tokens (the pooling the
/// sentence-transformers MiniLM was trained with), dropout, then one linear layer to class logits. State-dict names
/// follow Hugging Face's sequence-classification models: <c>bert.*</c> and <c>classifier.*</c>.
/// </summary>
internal sealed class SequenceClassifier : nn.Module<Tensor, Tensor, Tensor, Tensor>
{
    [ComponentName(Name = "bert")]
    private readonly BertModel _bert;

    [ComponentName(Name = "dropout")]
    private readonly InvertedDropout _dropout;

    [ComponentName(Name = "classifier")]
    private readonly Linear _classifier;

    /// <summary>Wraps <paramref name="bert"/> (which this module then owns) with a fresh head.</summary>
    /// <param name="bert">The encoder, pretrained or freshly initialised.</param>
    /// <param name="classCount">Number of classes, or 1 for a regression head.</param>
    /// <param name="dropout">Dropout on the pooled sentence vector during training.</param>
    public SequenceClassifier(BertModel bert, int classCount, double dropout) : base(nameof(SequenceClassifier))
    {
        ArgumentNullException.ThrowIfNull(bert);
        if (classCount < 1)
            throw new ArgumentOutOfRangeException(nameof(classCount), classCount, "A head needs at least 1 output (regression) or 2 classes.");
        if (dropout is < 0 or >= 1)
            throw new ArgumentOutOfRangeException(nameof(dropout), dropout, "Dropout must be in [0, 1).");
        _bert = bert;
        _dropout = new InvertedDropout(dropout);
        _classifier = nn.Linear(bert.Config.ModelDim, classCount);
        ClassCount = classCount;
        RegisterComponents();
    }

    /// <summary>Number of classes.</summary>
    public int ClassCount { get; }

    /// <summary>The encoder's architecture.</summary>
    public Configuration.TransformerConfig EncoderConfig => _bert.Config;

    /// <summary>The encoder's token embedding matrix, (V, D).</summary>
    internal Parameter TokenEmbeddings =>
        named_parameters().Where(p => p.name == "bert.embeddings.word_embeddings.weight").Select(p => p.parameter).FirstOrDefault()
        ?? throw new InvalidOperationException("The encoder has no bert.embeddings.word_embeddings.weight parameter.");

    /// <summary>Class logits of a batch.</summary>
    /// <param name="inputIds">(B, T) int64 token ids.</param>
    /// <param name="attentionMask">(B, T) int64, 1 for real tokens.</param>
    /// <param name="tokenTypeIds">(B, T) int64 segment ids.</param>
    /// <returns>(B, C) logits.</returns>
    public override Tensor forward(Tensor inputIds, Tensor attentionMask, Tensor tokenTypeIds)
    {
        using var scope = NewDisposeScope();
        var hidden = _bert.ForwardSkippingPadding(inputIds, attentionMask, tokenTypeIds);   // (B, T, D)
        var pooled = _dropout.forward(TokenPooling.Mean(hidden, attentionMask));  // (B, T, D) -> (B, D)
        return _classifier.Project(pooled).MoveToOuterDisposeScope();              // (B, D) -> (B, C)
    }
}
