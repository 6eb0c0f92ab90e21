using Microsoft.ML;
using Microsoft.ML.Data;
using Transformer.MLNet.Embeddings;

namespace Transformer.MLNet.Tests.Reliability;

/// <summary>Null, empty, huge, control-character, invalid UTF-16 and any-script text through the estimators and transformers.</summary>
[TestClass]
public sealed class TextInputTests
{
    private static readonly string ImdbWithNextLine = UciSentences.Read("imdb").First(r => r.Text.Contains('\u0085')).Text;
    private static readonly string Huge = string.Join(' ', Enumerable.Repeat(string.Join(' ', UciSentences.Read("imdb").Take(50).Select(r => r.Text)), 40));

    private static readonly string?[] Awkward =
    [
        null, "", "   ", "\t\r\n", Huge, ImdbWithNextLine, "bad \uD83D end", "\uDE00", "\uFFFE", "你好，世界 😀👍🏽", "مرحبا بالعالم", "Привет", "e\u0301te\u0301",
    ];

    [TestMethod]
    [TestCategory("Reliability")]
    public void Classifier_scores_every_kind_of_text_and_counts_truncation()
    {
        var model = TinyPipelines.BinaryModel;
        long before = model.TruncatedTextCount;
        var scored = model.Transform(TinyPipelines.Rows(Awkward));
        var scores = scored.GetColumn<float>("Score").ToArray();
        var probabilities = scored.GetColumn<float>("Probability").ToArray();
        Assert.HasCount(Awkward.Length, scores);
        Assert.IsTrue(scores.All(float.IsFinite) && probabilities.All(p => p is >= 0 and <= 1));
        Assert.AreEqual(2, model.TruncatedTextCount - before, "the huge text is cut once per column read");

        // Null, empty and whitespace-only text are all scored as [CLS] [SEP].
        Assert.AreEqual(scores[1], scores[0]);
        Assert.AreEqual(scores[1], scores[2]);
        Assert.AreEqual(scores[1], scores[3]);

        var engine = TinyPipelines.Context.Model.CreatePredictionEngine<SentenceRow, BinaryPrediction>(model);
        Assert.AreEqual(scores[1], engine.Predict(new SentenceRow { Text = null! }).Score, 1e-5f);
        Assert.AreEqual(scores[4], engine.Predict(new SentenceRow { Text = Huge }).Score, 1e-5f);
    }

    [TestMethod]
    [TestCategory("Reliability")]
    public void Sentence_embeddings_of_awkward_text_are_finite_unit_vectors_and_empty_text_is_CLS_SEP()
    {
        var mlContext = TinyPipelines.Context;
        var data = TinyPipelines.Rows(Awkward);
        using var embedding = mlContext.Transforms.Text.ApplySentenceEmbedding("Features", nameof(SentenceRow.Text), inferenceBatchSize: 8).Fit(data);
        var vectors = embedding.Transform(data).GetColumn<float[]>("Features").ToArray();
        Assert.HasCount(Awkward.Length, vectors);
        foreach (var vector in vectors)
        {
            Assert.IsTrue(vector.All(float.IsFinite));
            Assert.AreEqual(1.0, Math.Sqrt(vector.Sum(v => (double)v * v)), 1e-4);
        }

        CollectionAssert.AreEqual(vectors[1], vectors[0], "null text is empty text");
        CollectionAssert.AreEqual(vectors[1], vectors[2], "whitespace-only text is empty text");
        Assert.AreEqual(1, embedding.TruncatedTextCount, "the huge text was cut to 256 tokens");

        var badOptions = new (SentenceEmbeddingOptions Options, string Name)[]
        {
            (new() { InputColumnName = "Text", InferenceBatchSize = 0 }, "InferenceBatchSize"),
            (new() { InputColumnName = "Text", MaxTokens = 1 }, "MaxTokens"),
            (new() { InputColumnName = "Text", MaxTokens = 100_000 }, "MaxTokens"),
            (new() { InputColumnName = "Missing" }, "Missing"),
        };
        foreach (var (options, name) in badOptions)
        {
            var error = Assert.Throws<ArgumentException>(() => mlContext.Transforms.Text.ApplySentenceEmbedding(options).Fit(data).Dispose());
            StringAssert.Contains(error.Message, name);
        }
    }
}
