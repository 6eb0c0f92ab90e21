using Microsoft.ML;
using Transformer.MLNet.Network.Metrics;
using Transformer.MLNet.Translation;

namespace Transformer.MLNet.Tests.Generation;

[TestClass]
public sealed class TranslationEvaluationTests
{
    private sealed record OneReference(string Target, string Translation);

    private sealed record SeveralReferences(string[] References, string Translation);

    // sacreBLEU's README example (two reference streams of three segments, regrouped per segment), which scores
    // BLEU 48.530827 with the default settings — the fixture CorpusBleuTests checks against sacreBLEU.
    private static readonly string[] Hypotheses =
    [
        "The dog bit the man.",
        "It wasn't surprising.",
        "The man had just bitten him.",
    ];

    private static readonly string[][] References =
    [
        ["The dog bit the man.", "The dog had bit the man."],
        ["It was not unexpected.", "No one was surprised."],
        ["The man bit him first.", "The man had bitten the dog."],
    ];

    [TestMethod]
    public void Vector_references_give_the_corpus_scores_of_the_metrics()
    {
        var mlContext = new MLContext(seed: 1);
        var data = mlContext.Data.LoadFromEnumerable(Hypotheses.Zip(References, (h, r) => new SeveralReferences(r, h)));
        var metrics = mlContext.Transforms.Text.EvaluateTranslation(data, referenceColumnName: nameof(SeveralReferences.References));
        IReadOnlyList<string>[] references = [.. References];
        Assert.AreEqual(3, metrics.RowCount);
        Assert.AreEqual(new CorpusBleu().Score(Hypotheses, references).Score, metrics.Bleu.Score, 1e-12);
        Assert.AreEqual(new CorpusChrf().Score(Hypotheses, references), metrics.ChrF, 1e-12);
        Assert.AreEqual(48.530827, metrics.Bleu.Score, 1e-6, "sacreBLEU's value for this example");
    }

    [TestMethod]
    public void A_text_reference_column_and_perfect_translations_score_100()
    {
        var mlContext = new MLContext(seed: 1);
        var rows = References.Select(r => new OneReference(r[0], r[0])).ToList();
        var metrics = mlContext.Transforms.Text.EvaluateTranslation(mlContext.Data.LoadFromEnumerable(rows));
        Assert.AreEqual(100, metrics.Bleu.Score, 1e-9);
        Assert.AreEqual(100, metrics.ChrF, 1e-9);
    }

    [TestMethod]
    public void Wrong_columns_are_named_in_the_error()
    {
        var mlContext = new MLContext(seed: 1);
        var data = mlContext.Data.LoadFromEnumerable(new[] { new OneReference("a", "b") });
        var missing = Assert.ThrowsExactly<ArgumentException>(() => mlContext.Transforms.Text.EvaluateTranslation(data, translationColumnName: "Output"));
        StringAssert.Contains(missing.Message, "'Output'");
        var numbers = mlContext.Data.LoadFromEnumerable(new[] { new { Target = "a", Translation = 1f } });
        var wrongType = Assert.ThrowsExactly<ArgumentException>(() => mlContext.Transforms.Text.EvaluateTranslation(numbers));
        StringAssert.Contains(wrongType.Message, "must be text");
        var empty = mlContext.Data.LoadFromEnumerable(new[] { new SeveralReferences([], "x") });
        var noReference = Assert.ThrowsExactly<ArgumentException>(() => mlContext.Transforms.Text.EvaluateTranslation(empty, referenceColumnName: "References"));
        StringAssert.Contains(noReference.Message, "no reference");
    }

    [TestMethod]
    public void Invalid_metric_settings_are_named_before_any_row_is_read()
    {
        var mlContext = new MLContext(seed: 1);
        var data = mlContext.Data.LoadFromEnumerable(Unreadable());
        var order = Assert.ThrowsExactly<ArgumentException>(() =>
            mlContext.Transforms.Text.EvaluateTranslation(data, bleu: new CorpusBleu { MaxOrder = int.MaxValue }));
        Assert.AreEqual(nameof(CorpusBleu.MaxOrder), order.ParamName);
        StringAssert.Contains(order.Message, "CorpusBleu.MaxOrder = 2147483647 is invalid");
        var smoothing = Assert.ThrowsExactly<ArgumentException>(() => mlContext.Transforms.Text.EvaluateTranslation(
            data, bleu: new CorpusBleu { Smoothing = BleuSmoothing.Floor, SmoothingValue = double.NaN }));
        StringAssert.Contains(smoothing.Message, "CorpusBleu.SmoothingValue = NaN is invalid");
        var beta = Assert.ThrowsExactly<ArgumentException>(() =>
            mlContext.Transforms.Text.EvaluateTranslation(data, chrf: new CorpusChrf { Beta = double.NaN }));
        StringAssert.Contains(beta.Message, "CorpusChrf.Beta = NaN is invalid");
        var charOrder = Assert.ThrowsExactly<ArgumentException>(() =>
            mlContext.Transforms.Text.EvaluateTranslation(data, chrf: new CorpusChrf { CharOrder = 0 }));
        StringAssert.Contains(charOrder.Message, "CorpusChrf.CharOrder = 0 is invalid");
    }

    private static IEnumerable<OneReference> Unreadable()
    {
        yield return new OneReference("a", "a");
        throw new InvalidOperationException("The rows were read although the settings are invalid.");
    }
}
