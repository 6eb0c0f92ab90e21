using Microsoft.ML;
using Microsoft.ML.Data;
using Transformer.MLNet.Examples.Data;
using Transformer.MLNet.Network.Tokenization;
using Transformer.MLNet.Persistence;
using Transformer.MLNet.Schema;
using Transformer.MLNet.TokenClassification;
using Transformer.MLNet.Tests.Classification;

namespace Transformer.MLNet.Tests.TokenClassification;

[TestClass]
public sealed class TokenClassifierTests
{
    /// <summary>Words or raw text, and their tags.</summary>
    private sealed class Row
    {
        public string Text { get; set; } = "";

        public string[] Words { get; set; } = [];

        public string[] Tags { get; set; } = [];
    }

    private sealed class TagRows
    {
        public string[] Gold { get; set; } = [];

        public string[] Predicted { get; set; } = [];
    }

    // Capitalised words are people: a pattern a tiny model learns in seconds from the casing of words.
    // Sentences whose words are also the words of their text joined by spaces.
    private static List<Row> CapitalisedAsPeople(int count) =>
        [.. UniversalNer.ReadEnglishEwt("dev").Where(s => WordSplitter.Split(string.Join(' ', s.Words)).Count == s.Words.Count).Take(count).Select(s => new Row
        {
            Text = string.Join(' ', s.Words),
            Words = [.. s.Words],
            Tags = [.. s.Words.Select(w => char.IsUpper(w[0]) ? "B-PER" : "O")],
        })];

    private static TokenClassifierOptions TinyOptions(string textColumn, int epochs = 6) => new()
    {
        TextColumnName = textColumn, LabelColumnName = "Label", ScratchConfig = TinyScratch.Config, Epochs = epochs, BatchSize = 16,
        MaxTokens = 64, LearningRate = 2e-2, Seed = 1,
    };

    private static IEstimator<ITransformer> Pipeline(MLContext mlContext, TokenClassifierOptions options) =>
        mlContext.Transforms.Conversion.MapValueToKey("Label", nameof(Row.Tags))
            .Append(mlContext.MulticlassClassification.Trainers.TokenClassifier(options));

    [TestMethod]
    public void Evaluator_counts_exact_spans_as_seqeval_does()
    {
        var mlContext = new MLContext(seed: 0);
        TagRows[] rows =
        [
            new() { Gold = ["B-PER", "I-PER", "O", "B-LOC"], Predicted = ["B-PER", "I-PER", "O", "B-LOC"] },   // both right, LOC ends the sentence
            new() { Gold = ["O", "I-ORG", "I-ORG"], Predicted = ["O", "B-ORG", "I-ORG"] },                     // an I- without B- begins the ORG: right
            new() { Gold = ["B-PER", "O", "B-LOC", "I-LOC"], Predicted = ["B-PER", "O", "B-LOC", "O"] },       // PER right, LOC cut short: wrong
            new() { Gold = ["O", "O"], Predicted = ["B-ORG", "O"] },                                           // a spurious ORG
        ];
        var data = mlContext.Data.LoadFromEnumerable(rows);

        // Hand-counted: 5 reference entities, 6 predicted, 4 correct.
        foreach (var view in new[] { data, KeysOf(mlContext, data) })
        {
            var scores = mlContext.MulticlassClassification.EvaluateEntities(view, "Gold", "Predicted");
            Assert.AreEqual((5, 6, 4), (scores.Micro.Gold, scores.Micro.Predicted, scores.Micro.Correct));
            Assert.AreEqual(4.0 / 6, scores.Micro.Precision, 1e-12);
            Assert.AreEqual(4.0 / 5, scores.Micro.Recall, 1e-12);
            Assert.AreEqual(8.0 / 11, scores.Micro.F1, 1e-12);
            Assert.AreEqual(1.0, scores.PerType["PER"].F1, 1e-12);
            Assert.AreEqual(0.5, scores.PerType["LOC"].F1, 1e-12);
            Assert.AreEqual(2.0 / 3, scores.PerType["ORG"].F1, 1e-12);
        }

        var uneven = mlContext.Data.LoadFromEnumerable(new[] { rows[0], new TagRows { Gold = ["O"], Predicted = ["O", "O"] } });
        var e = Assert.ThrowsExactly<ArgumentException>(() => mlContext.MulticlassClassification.EvaluateEntities(uneven, "Gold", "Predicted"));
        StringAssert.Contains(e.Message, "Row 1: column 'Gold' has 1 tags but column 'Predicted' has 2");
    }

    private sealed class TagKey
    {
        public string Tag { get; set; } = "";
    }

    // One tag list for both columns, so that their keys name the same tags.
    private static IDataView KeysOf(MLContext mlContext, IDataView data)
    {
        var keys = mlContext.Data.LoadFromEnumerable(new[] { "O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-ORG", "I-ORG" }.Select(t => new TagKey { Tag = t }));
        return mlContext.Transforms.Conversion.MapValueToKey("Gold", keyData: keys)
            .Append(mlContext.Transforms.Conversion.MapValueToKey("Predicted", keyData: keys))
            .Fit(data).Transform(data);
    }

    [TestMethod]
    public void Bad_rows_are_named_before_training()
    {
        var mlContext = new MLContext(seed: 0);
        void Fails(Row[] rows, string textColumn, string expected)
        {
            var data = mlContext.Data.LoadFromEnumerable(rows);
            var e = Assert.ThrowsExactly<ArgumentException>(() => Pipeline(mlContext, TinyOptions(textColumn)).Fit(data));
            StringAssert.Contains(e.Message, expected);
        }

        Row Ok() => new() { Text = "Ann runs", Words = ["Ann", "runs"], Tags = ["B-PER", "O"] };
        Fails([Ok(), new() { Words = ["Bob", "sleeps", "."], Tags = ["B-PER", "O"] }], nameof(Row.Words), "Row 1: column 'Words' has 3 words but column 'Label' has 2 labels");
        Fails([Ok(), new() { Text = "Bob sleeps.", Tags = ["B-PER", "O"] }], nameof(Row.Text), "Row 1: column 'Text' has 3 words but column 'Label' has 2 labels");
        Fails([Ok(), new() { Text = " \t ", Tags = [] }], nameof(Row.Text), "Row 1: column 'Text' has no words");
        Fails([Ok(), new() { Words = ["Bob"], Tags = ["PERSON"] }], nameof(Row.Words), "Tag 'PERSON'");
        Fails([], nameof(Row.Words), "The training data has no rows in column 'Label'");

        // A tag the fitted key mapping does not know: missing (key 0) in the validation set.
        var train = mlContext.Data.LoadFromEnumerable(new[] { Ok() });
        var validation = mlContext.Data.LoadFromEnumerable(new[] { new Row { Words = ["Rome"], Tags = ["B-LOC"] } });
        var mapping = mlContext.Transforms.Conversion.MapValueToKey("Label", nameof(Row.Tags)).Fit(train);
        var options = TinyOptions(nameof(Row.Words));
        options.ValidationSet = mapping.Transform(validation);
        var unknown = Assert.ThrowsExactly<ArgumentException>(() => mlContext.MulticlassClassification.Trainers.TokenClassifier(options).Fit(mapping.Transform(train)));
        StringAssert.Contains(unknown.Message, "Row 0: the label of word 0 ('Rome') in column 'Label' is missing (key 0)");

        var notKeys = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() =>
            mlContext.MulticlassClassification.Trainers.TokenClassifier(new TokenClassifierOptions { LabelColumnName = nameof(Row.Tags), TextColumnName = nameof(Row.Words) })
                .Fit(train));
        StringAssert.Contains(notKeys.Message, "MapValueToKey(\"Tags\")");
    }

    [TestMethod]
    public void Raw_text_offsets_save_load_and_prediction_engine()
    {
        var mlContext = new MLContext(seed: 0);
        var rows = CapitalisedAsPeople(160);
        var data = mlContext.Data.LoadFromEnumerable(rows);
        var pipeline = Pipeline(mlContext, TinyOptions(nameof(Row.Text)));

        // Schema before and after fit: a vector of the label's keys, and the entity columns.
        var shape = pipeline.GetOutputSchema(TestSchemas.Shape(data.Schema));
        var predictedShape = TestSchemas.Find(shape, "PredictedLabel");
        Assert.IsTrue(predictedShape.IsKey);
        Assert.AreEqual(SchemaShape.Column.VectorKind.VariableVector, predictedShape.Kind);
        Assert.AreEqual(TextDataViewType.Instance, TestSchemas.Find(shape, "EntityText").ItemType);

        var model = pipeline.Fit(data);
        var scored = model.Transform(data);
        var predicted = scored.Schema["PredictedLabel"];
        Assert.AreEqual(new VectorDataViewType(new KeyDataViewType(typeof(uint), 2)), predicted.Type);
        Assert.AreEqual(data.Schema.Count + 1 + 6, scored.Schema.Count);
        var tagNames = mlContext.Transforms.Conversion.MapKeyToValue("PredictedTags", "PredictedLabel").Fit(scored).Transform(scored)
            .GetColumn<string[]>("PredictedTags").ToArray();
        Assert.IsTrue(tagNames.Zip(rows).All(p => p.First.Length == p.Second.Tags.Length), "one tag per word");
        var scores = mlContext.MulticlassClassification.EvaluateEntities(scored);
        Assert.IsGreaterThan(0.5, scores.Micro.F1, "the casing pattern is being learnt");

        // Offsets refer to the raw text, whatever its spaces, tabs, accents and emoji.
        const string text = "  José\tMárquez  visitó 😀🇪🇸 São\t\tPaulo,  con Zoë.  ";
        var tagger = ((IEnumerable<ITransformer>)model).OfType<TokenClassificationTransformer>().Single();
        var entities = tagger.FindEntities([text])[0];
        Assert.IsNotEmpty(entities);
        foreach (var entity in entities)
            Assert.AreEqual(entity.Text, text[entity.Start..entity.End]);
        CollectionAssert.IsSubsetOf(entities.Select(e => e.Text).ToArray(), new[] { "José", "Márquez", "São", "Paulo", "Zoë" });
        var nullText = Assert.ThrowsExactly<ArgumentException>(() => tagger.FindEntities([text, null!]));
        Assert.Contains("Text 1 is null", nullText.Message);
        var uneven = Assert.ThrowsExactly<InvalidOperationException>(() => new EntityPrediction
        {
            EntityType = ["PER", "LOC"], EntityText = ["a"], EntityStart = [0], EntityEnd = [1], EntityScore = [1f],
        }.GetEntities());
        Assert.Contains("EntityType 2, EntityText 1", uneven.Message);

        // Save, load in a fresh context: identical tags and entities; PredictionEngine on the loaded pipeline.
        string path = Path.Combine(Path.GetTempPath(), $"tokens-{Guid.NewGuid():N}.zip");
        try
        {
            mlContext.Model.SavePipeline(model, data.Schema, path);
            var fresh = new MLContext(seed: 5);
            var loaded = fresh.Model.LoadPipeline(path, out _);
            var before = mlContext.Data.CreateEnumerable<EntityPrediction>(scored, reuseRowObject: false).Select(p => string.Join(";", p.GetEntities())).ToList();
            var after = fresh.Data.CreateEnumerable<EntityPrediction>(loaded.Transform(data), reuseRowObject: false).Select(p => string.Join(";", p.GetEntities())).ToList();
            CollectionAssert.AreEqual(before, after);
            CollectionAssert.AreEqual(scored.GetColumn<uint[]>("PredictedLabel").SelectMany(k => k).ToArray(),
                loaded.Transform(data).GetColumn<uint[]>("PredictedLabel").SelectMany(k => k).ToArray());

            var engine = fresh.Model.CreatePredictionEngine<Row, EntityPrediction>(loaded);
            var one = engine.Predict(new Row { Text = text, Tags = [] });
            CollectionAssert.AreEqual(entities, one.GetEntities());
            Assert.IsEmpty(engine.Predict(new Row { Text = "", Tags = [] }).GetEntities(), "an empty text has no entities");
        }
        finally
        {
            File.Delete(path);
        }
    }
}
