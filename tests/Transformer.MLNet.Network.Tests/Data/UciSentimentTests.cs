using Transformer.MLNet.Examples.Data;

namespace Transformer.MLNet.Network.Tests.Data;

[TestClass]
public sealed class UciSentimentTests
{
    [TestMethod]
    [DataRow("yelp")]
    [DataRow("imdb")]
    public void Each_file_has_1000_sentences_half_positive(string source)
    {
        var rows = UciSentiment.Read(source);
        Assert.HasCount(1000, rows);
        Assert.AreEqual(500, rows.Count(r => r.Positive));
        Assert.IsTrue(rows.All(r => r.Text.Length > 0 && r.Text == r.Text.Trim() && !r.Text.Contains('\t')));
    }

    [TestMethod]
    public void Next_line_characters_stay_inside_their_imdb_sentences()
    {
        Assert.AreEqual(2, UciSentiment.Read("imdb").Count(r => r.Text.Contains('\u0085')));
    }
}
