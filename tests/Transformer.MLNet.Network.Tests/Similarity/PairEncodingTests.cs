using Transformer.MLNet.Network.Tests.Pretrained;
using Transformer.MLNet.Network.Tokenization;

namespace Transformer.MLNet.Network.Tests.Similarity;

[TestClass]
public sealed class PairEncodingTests
{
    private static BertTextTokenizer Tokenizer => MiniLmFixture.Model.Tokenizer;

    private static string Tokens(IEnumerable<int> ids) => string.Join(" ", ids.Select(Tokenizer.IdToToken));

    [TestMethod]
    public void A_pair_reads_as_cls_first_sep_second_sep_with_token_type_one_on_the_second_text()
    {
        int[] ids = Tokenizer.EncodePairToIds("Hello, world!", "How are you?", 64, out bool truncated, out int secondStart);
        Assert.AreEqual("[CLS] hello , world ! [SEP] how are you ? [SEP]", Tokens(ids));
        Assert.IsFalse(truncated);
        Assert.AreEqual(6, secondStart);

        var batch = new TokenizedBatch([ids, Tokenizer.EncodeToIds("short", 64, out _)], Tokenizer.PadTokenId, 0, [secondStart, 3]);
        Assert.AreEqual(11, batch.SequenceLength);
        CollectionAssert.AreEqual(new long[] { 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1 }, batch.TokenTypeIds[..11]);
        CollectionAssert.AreEqual(new long[11], batch.TokenTypeIds[11..], "a single text and its padding are all type 0");
    }

    [TestMethod]
    public void Truncation_cuts_the_longer_text_first_so_both_share_the_budget()
    {
        string longText = string.Join(" ", Enumerable.Repeat("word", 40));
        int[] ids = Tokenizer.EncodePairToIds(longText, "a short reply", 16, out bool truncated, out int secondStart);
        Assert.IsTrue(truncated);
        Assert.HasCount(16, ids);
        Assert.AreEqual("[CLS] word word word word word word word word word word [SEP] a short reply [SEP]", Tokens(ids));
        Assert.AreEqual(12, secondStart);

        // Both long: the budget is split evenly (the second gives up the odd token).
        ids = Tokenizer.EncodePairToIds(longText, longText, 16, out _, out secondStart);
        Assert.AreEqual(7, secondStart - 2, "first text keeps 7 word pieces");
        Assert.AreEqual(6, ids.Length - secondStart - 1, "second text keeps 6 word pieces");
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => Tokenizer.EncodePairToIds("a", "b", 2, out _, out _));
    }
}
