using System.Text.Json;
using Transformer.MLNet.Examples.Data;
using Transformer.MLNet.Network.Metrics;

namespace Transformer.MLNet.Network.Tests.Metrics;

[TestClass]
public sealed class EntityScoresTests
{
    [TestMethod]
    public void Spans_follow_conlleval_including_I_tags_without_a_B()
    {
        CollectionAssert.AreEqual(
            new[] { new EntitySpan("PER", 0, 2), new EntitySpan("LOC", 3, 4) },
            EntitySpans.FromIob2(["B-PER", "I-PER", "O", "B-LOC"]).ToArray(), "an entity that ends the sentence is closed");
        CollectionAssert.AreEqual(
            new[] { new EntitySpan("ORG", 1, 3) },
            EntitySpans.FromIob2(["O", "I-ORG", "I-ORG"]).ToArray(), "I- after O begins an entity");
        CollectionAssert.AreEqual(
            new[] { new EntitySpan("PER", 0, 1), new EntitySpan("LOC", 1, 2) },
            EntitySpans.FromIob2(["B-PER", "I-LOC"]).ToArray(), "I- of another type begins a new entity");
        CollectionAssert.AreEqual(
            new[] { new EntitySpan("PER", 0, 1), new EntitySpan("PER", 1, 2) },
            EntitySpans.FromIob2(["B-PER", "B-PER"]).ToArray(), "B- after B- of the same type is a second entity");
        Assert.IsEmpty(EntitySpans.FromIob2([]));
        Assert.IsEmpty(EntitySpans.FromIob2(["O", "O"]));
        CollectionAssert.AreEqual(new[] { "B-LOC", "I-LOC", "O", "B-PER" }, EntitySpans.ToIob2([new("LOC", 0, 2), new("PER", 3, 4)], 4));
    }

    [TestMethod]
    public void Bad_tags_and_lengths_are_clear_errors()
    {
        var bad = Assert.ThrowsExactly<ArgumentException>(() => EntitySpans.FromIob2(["O", "PER"]));
        StringAssert.Contains(bad.Message, "'PER' at word 1");
        Assert.ThrowsExactly<ArgumentException>(() => EntitySpans.FromIob2(["B-"]));
        var lengths = Assert.ThrowsExactly<ArgumentException>(() => EntityScores.FromIob2([["O", "B-PER"]], [["O"]]));
        StringAssert.Contains(lengths.Message, "Sentence 0");
        Assert.ThrowsExactly<ArgumentException>(() => EntitySpans.ToIob2([new("PER", 0, 2), new("LOC", 1, 3)], 3));
    }

    [TestMethod]
    public void Scores_equal_hand_counts()
    {
        // Reference: PER[0,2) LOC[3,4) | ORG[0,1) at the start, LOC at the sentence end [4,5).
        // Predicted: PER[0,2) correct, LOC[3,5) wrong end | ORG[0,1) correct, LOC missed, extra PER[2,3).
        string[][] gold = [["B-PER", "I-PER", "O", "B-LOC", "O"], ["B-ORG", "O", "O", "O", "B-LOC"]];
        string[][] predicted = [["B-PER", "I-PER", "O", "B-LOC", "I-LOC"], ["I-ORG", "O", "B-PER", "O", "O"]];
        var scores = EntityScores.FromIob2(gold, predicted);

        Assert.AreEqual(new EntityCounts(4, 4, 2), scores.Micro);
        Assert.AreEqual(0.5, scores.Micro.Precision, 1e-12);
        Assert.AreEqual(0.5, scores.Micro.Recall, 1e-12);
        Assert.AreEqual(0.5, scores.Micro.F1, 1e-12);
        Assert.AreEqual(new EntityCounts(2, 1, 0), scores.PerType["LOC"]);
        Assert.AreEqual(new EntityCounts(1, 1, 1), scores.PerType["ORG"]);
        Assert.AreEqual(new EntityCounts(1, 2, 1), scores.PerType["PER"]);
        Assert.AreEqual(2.0 / 3, scores.PerType["PER"].F1, 1e-12);
        Assert.AreEqual((0 + 1 + 2.0 / 3) / 3, scores.MacroF1, 1e-12);
        Assert.AreEqual(0, new EntityCounts(0, 0, 0).F1);
    }

    [TestMethod]
    public void Scores_equal_seqevals_documented_example()
    {
        // seqeval's README: MISC 0.00/0.00/0.00, PER 1.00/1.00/1.00, micro avg 0.50/0.50/0.50, macro avg 0.50.
        string[][] gold = [["O", "O", "O", "B-MISC", "I-MISC", "I-MISC", "O"], ["B-PER", "I-PER", "O"]];
        string[][] predicted = [["O", "O", "B-MISC", "I-MISC", "I-MISC", "I-MISC", "O"], ["B-PER", "I-PER", "O"]];
        var scores = EntityScores.FromIob2(gold, predicted);
        Assert.AreEqual(0, scores.PerType["MISC"].F1);
        Assert.AreEqual(1, scores.PerType["PER"].F1);
        Assert.AreEqual(0.5, scores.Micro.F1, 1e-12);
        Assert.AreEqual(0.5, scores.MacroF1, 1e-12);
    }

    [TestMethod]
    [DataRow("dev")]
    [DataRow("test")]
    public void Universal_ner_entity_counts_equal_the_published_statistics(string split)
    {
        var sentences = UniversalNer.ReadEnglishEwt(split);
        using var stats = JsonDocument.Parse(File.ReadAllText(DataDirectory.Resolve(UniversalNer.Folder, $"en_ewt-ud-{split}.stats")));
        Assert.HasCount(stats.RootElement.GetProperty("num_sentences").GetInt32(), sentences);
        Assert.AreEqual(stats.RootElement.GetProperty("num_tokens").GetInt32(), sentences.Sum(s => s.Words.Count));

        var perfect = EntityScores.FromIob2([.. sentences.Select(s => s.Tags)], [.. sentences.Select(s => s.Tags)]);
        foreach (var type in stats.RootElement.GetProperty("label_distribution").EnumerateObject())
            Assert.AreEqual(type.Value.GetInt32(), perfect.PerType[type.Name].Gold, $"{split} {type.Name}");
        Assert.AreEqual(1.0, perfect.Micro.F1);
        Assert.IsTrue(sentences.All(s => s.Text.Length > 0 && s.Words.Count == s.Tags.Count));
    }
}
