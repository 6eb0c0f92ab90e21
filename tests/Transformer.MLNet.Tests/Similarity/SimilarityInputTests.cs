using Microsoft.ML;
using Microsoft.ML.Data;
using Transformer.MLNet.Embeddings;
using Transformer.MLNet.Similarity;

namespace Transformer.MLNet.Tests.Similarity;

/// <summary>
/// Input on which a correlation is undefined is an error naming the option or column and how to fix it: fine-tuning
/// refuses such a validation set before training, and the similarity evaluator never returns a silent NaN.
/// </summary>
[TestClass]
[TestCategory("Reliability")]
public sealed class SimilarityInputTests
{
    private static List<PairRow> Pairs(int count, Func<int, float> label) =>
        [.. Enumerable.Range(0, count).Select(i => new PairRow { Sentence1 = $"a sentence {i}", Sentence2 = $"another sentence {i}", Label = label(i) })];

    private static SentenceEmbeddingTrainingOptions FineTuning() => new()
    {
        FirstSentenceColumnName = nameof(PairRow.Sentence1),
        SecondSentenceColumnName = nameof(PairRow.Sentence2),
        LabelColumnName = nameof(PairRow.Label),
        Epochs = 1,
        BatchSize = 4,
        MaxTokens = 16,
        Seed = 0,
    };

    [TestMethod]
    public void Fine_tuning_refuses_a_held_out_validation_set_of_one_pair_before_training()
    {
        var mlContext = new MLContext(seed: 0);
        var options = FineTuning();
        options.ValidationFraction = 0.1;
        var error = Assert.ThrowsExactly<ArgumentException>(() =>
            mlContext.Transforms.Text.FineTuneSentenceEmbedding(options).Fit(mlContext.Data.LoadFromEnumerable(Pairs(10, i => i % 5))));

        Assert.AreEqual(nameof(SentenceEmbeddingTrainingOptions.ValidationFraction), error.ParamName);
        StringAssert.Contains(error.Message, "holds out 1 of the training pairs");
        StringAssert.Contains(error.Message, "at least 2 pairs");
        StringAssert.Contains(error.Message, "raise ValidationFraction");
    }

    [TestMethod]
    public void Fine_tuning_refuses_a_validation_set_of_one_pair_or_of_equal_labels_before_training()
    {
        var mlContext = new MLContext(seed: 0);
        var train = mlContext.Data.LoadFromEnumerable(Pairs(8, i => i % 5));

        var options = FineTuning();
        options.ValidationSet = mlContext.Data.LoadFromEnumerable(Pairs(1, _ => 3));
        var error = Assert.ThrowsExactly<ArgumentException>(() => mlContext.Transforms.Text.FineTuneSentenceEmbedding(options).Fit(train));
        Assert.AreEqual(nameof(SentenceEmbeddingTrainingOptions.ValidationSet), error.ParamName);
        StringAssert.Contains(error.Message, "ValidationSet holds 1 pair;");
        StringAssert.Contains(error.Message, "at least 2 pairs");

        options.ValidationSet = mlContext.Data.LoadFromEnumerable(Pairs(3, _ => 2));
        error = Assert.ThrowsExactly<ArgumentException>(() => mlContext.Transforms.Text.FineTuneSentenceEmbedding(options).Fit(train));
        Assert.AreEqual(nameof(SentenceEmbeddingTrainingOptions.ValidationSet), error.ParamName);
        StringAssert.Contains(error.Message, "same label (2) in column 'Label'");
    }

    [TestMethod]
    public void Fine_tuning_refuses_held_out_pairs_that_all_have_the_same_label()
    {
        var mlContext = new MLContext(seed: 0);
        var options = FineTuning();
        options.ValidationFraction = 0.3;
        var error = Assert.ThrowsExactly<ArgumentException>(() =>
            mlContext.Transforms.Text.FineTuneSentenceEmbedding(options).Fit(mlContext.Data.LoadFromEnumerable(Pairs(10, _ => 4))));

        Assert.AreEqual(nameof(SentenceEmbeddingTrainingOptions.ValidationFraction), error.ParamName);
        StringAssert.Contains(error.Message, "same label (4)");
    }

    [TestMethod]
    [DataRow(1e308)]
    [DataRow(1e5)]
    [DataRow(double.PositiveInfinity)]
    [DataRow(double.NaN)]
    [DataRow(0.0)]
    public void Fine_tuning_rejects_a_scale_whose_scaled_cosines_break_the_loss(double scale)
    {
        var options = FineTuning();
        options.Scale = scale;
        var error = Assert.ThrowsExactly<ArgumentException>(() => new MLContext(seed: 0).Transforms.Text.FineTuneSentenceEmbedding(options));
        Assert.AreEqual("Scale", error.ParamName);
        StringAssert.Contains(error.Message, "Scale");
    }

    [TestMethod]
    public void Fine_tuning_accepts_the_largest_scale()
    {
        var options = FineTuning();
        options.Scale = 1e4;
        _ = new MLContext(seed: 0).Transforms.Text.FineTuneSentenceEmbedding(options);
    }

    private sealed class ScoredRow
    {
        public float Label { get; set; }

        public float Score { get; set; }
    }

    private sealed class EmbeddedRow
    {
        public float Similarity { get; set; }

        [VectorType]
        public float[] A { get; set; } = [];

        [VectorType]
        public float[] B { get; set; } = [];
    }

    [TestMethod]
    public void Evaluating_a_constant_label_or_score_column_names_the_column_and_its_value()
    {
        var mlContext = new MLContext(seed: 0);
        var constantLabel = mlContext.Data.LoadFromEnumerable(Enumerable.Range(0, 4).Select(i => new ScoredRow { Label = 1, Score = i }));
        var error = Assert.ThrowsExactly<ArgumentException>(() => mlContext.Regression.EvaluateSimilarity(constantLabel, "Label", "Score"));
        StringAssert.Contains(error.Message, "Column 'Label' has the same value (1) in every row: a correlation is undefined; evaluate on rows with different labels.");

        var constantScore = mlContext.Data.LoadFromEnumerable(Enumerable.Range(0, 4).Select(i => new ScoredRow { Label = i, Score = 0.5f }));
        error = Assert.ThrowsExactly<ArgumentException>(() => mlContext.Regression.EvaluateSimilarity(constantScore, "Label", "Score"));
        StringAssert.Contains(error.Message, "Column 'Score' has the same value (0.5) in every row");

        var sameCosine = mlContext.Data.LoadFromEnumerable(Enumerable.Range(0, 3).Select(i => new EmbeddedRow { Similarity = i, A = [1, i], B = [1, i] }));
        error = Assert.ThrowsExactly<ArgumentException>(() => mlContext.Regression.EvaluateSimilarity(sameCosine, "Similarity", "A", "B"));
        StringAssert.Contains(error.Message, "The cosine of 'A' and 'B' has the same value (1) in every row");
    }

    [TestMethod]
    public void Evaluating_embeddings_that_have_no_cosine_names_the_columns_and_the_row()
    {
        var mlContext = new MLContext(seed: 0);
        EmbeddedRow[] Rows(float[] a, float[] b) =>
        [
            new() { Similarity = 0, A = [1, 0], B = [0, 1] },
            new() { Similarity = 1, A = a, B = b },
            new() { Similarity = 2, A = [1, 0], B = [1, 1] },
        ];
        string Error(float[] a, float[] b) => Assert.ThrowsExactly<ArgumentException>(() =>
            mlContext.Regression.EvaluateSimilarity(mlContext.Data.LoadFromEnumerable(Rows(a, b)), "Similarity", "A", "B")).Message;

        string message = Error([1, 0, 0], [1, 0]);
        StringAssert.Contains(message, "Row 1");
        StringAssert.Contains(message, "'A' (3 values) and 'B' (2 values)");

        message = Error([], []);
        StringAssert.Contains(message, "Row 1: embedding column 'A' is empty");

        message = Error([1, 1], [0, 0]);
        StringAssert.Contains(message, "Row 1: embedding column 'B' is a zero vector");

        Assert.AreEqual(1.0, mlContext.Regression.EvaluateSimilarity(
            mlContext.Data.LoadFromEnumerable(Rows([1, 0], [1, 2])), "Similarity", "A", "B").Spearman, 1e-12);
    }
}
