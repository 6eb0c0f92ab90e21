namespace Transformer.MLNet.Network.Classification;

/// <summary>One tokenized input of a <see cref="TextClassifier"/>: a text, or a text pair whose second text starts at <paramref name="SecondStart"/>.</summary>
/// <param name="Ids">Token ids, [CLS] and [SEP] included.</param>
/// <param name="SecondStart">Index of the second text's first token; <c>Ids.Length</c> for a single text (no token of type 1).</param>
internal readonly record struct EncodedText(int[] Ids, int SecondStart);
