using Transformer.MLNet.Examples.Data;
using Transformer.MLNet.Network.Metrics;
using Transformer.MLNet.Network.TokenClassification;
using Transformer.MLNet.Network.Training;

namespace Transformer.MLNet.Network.Tests.TokenClassification;

/// <summary>A short fine-tuning of MiniLM on Universal NER English-EWT, and the trainer's input checks.</summary>
[TestClass]
public sealed class TokenClassifierTrainerTests
{
    private static readonly string[] Labels = ["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC"];

    private static (IReadOnlyList<IReadOnlyList<string>> Words, IReadOnlyList<IReadOnlyList<int>> Tags) Read(string split, int count, int minEntities)
    {
        var sentences = UniversalNer.ReadEnglishEwt(split).Where(s => s.Tags.Count(t => t != "O") >= minEntities).Take(count).ToList();
        return ([.. sentences.Select(s => s.Words)], [.. sentences.Select(s => (IReadOnlyList<int>)[.. s.Tags.Select(t => Array.IndexOf(Labels, t))])]);
    }

    private static TokenClassifierSettings Settings => new(Labels, 64, 0.1);

    [TestMethod]
    public void A_short_fine_tuning_finds_people_far_better_than_the_most_frequent_tag_baseline()
    {
        // Sentences with at least one entity, so that a few updates see many.
        var (words, tags) = Read("dev", 320, minEntities: 1);
        var (testWords, testTags) = Read("test", 200, minEntities: 1);
        var options = new TokenClassifierTrainingOptions
        {
            Epochs = 2, BatchSize = 16, Seed = 3, FreezeTokenEmbeddings = true,
            Optimization = new TokenClassifierTrainingOptions().Optimization with { LearningRate = 3e-4 },
        };
        var (classifier, result) = TokenClassifierTrainer.Fit(null, null, Settings, words, tags, options);
        using (classifier)
        {
            Assert.AreEqual(40, result.Steps);
            Assert.IsLessThan(result.TrainingLosses[0], result.TrainingLosses[^1]);
            var scores = TokenClassifierTrainer.Evaluate(classifier, testWords, testTags);

            // The baseline: each word gets its most frequent training tag.
            var frequent = new Dictionary<string, int>(StringComparer.Ordinal);
            foreach (var group in words.SelectMany((s, i) => s.Select((w, j) => (w, t: tags[i][j]))).GroupBy(p => p.w))
                frequent[group.Key] = group.GroupBy(p => p.t).OrderByDescending(g => g.Count()).First().Key;
            var baseline = EntityScores.FromIob2(
                [.. testTags.Select(s => (IReadOnlyList<string>)[.. s.Select(t => Labels[t])])],
                [.. testWords.Select(s => (IReadOnlyList<string>)[.. s.Select(w => Labels[frequent.GetValueOrDefault(w, 0)])])]);
            var per = scores.PerType["PER"].F1;
            Assert.IsGreaterThan(0.5, per, $"PER F1 {per:F3}");
            Assert.IsGreaterThan(baseline.PerType["PER"].F1 + 0.1, per, $"PER F1 {per:F3} against the baseline's {baseline.PerType["PER"].F1:F3}");
            Assert.IsGreaterThan(baseline.Micro.F1, scores.Micro.F1);

            // Decoding never emits an I- that continues nothing, and entities match the tags.
            foreach (var sentence in classifier.Predict(testWords))
            {
                var tagNames = sentence.Labels.Select(l => Labels[l]).ToArray();
                for (int w = 0; w < tagNames.Length; w++)
                {
                    if (tagNames[w].StartsWith("I-", StringComparison.Ordinal))
                        Assert.AreEqual(tagNames[w][2..], tagNames[w - 1][2..], $"I- continues its type: {string.Join(" ", tagNames)}");
                }

                Assert.HasCount(EntitySpans.FromIob2(tagNames).Count, sentence.Entities);
            }
        }
    }

    [TestMethod]
    public void Bad_training_rows_are_named()
    {
        var options = new TokenClassifierTrainingOptions { Epochs = 1 };
        void Fails(IReadOnlyList<IReadOnlyList<string>> words, IReadOnlyList<IReadOnlyList<int>> tags, string expected)
        {
            var e = Assert.ThrowsExactly<ArgumentException>(() => TokenClassifierTrainer.Fit(null, null, Settings, words, tags, options));
            StringAssert.Contains(e.Message, expected);
        }

        Fails([["Ann", "runs"], ["Bob", "sleeps"]], [[1, 0], [1]], "Sentence 1 of sentences has 2 words but 1 labels");
        Fails([["Ann"], []], [[1], []], "Sentence 1 of sentences has no words");
        var range = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => TokenClassifierTrainer.Fit(null, null, Settings, [["Ann", "runs"]], [[1, 9]], options));
        StringAssert.Contains(range.Message, "word 1 ('runs') in sentence 0");
        var notIob = Assert.ThrowsExactly<ArgumentException>(() => new TokenClassifierSettings(["O", "PERSON"], 64, 0.1).Validate());
        StringAssert.Contains(notIob.Message, "'PERSON'");
    }
}
