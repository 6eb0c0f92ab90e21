using Transformer.MLNet.Network.Bert;
using Transformer.MLNet.Network.Tests.Reliability;
using Transformer.MLNet.Network.TokenClassification;
using Transformer.MLNet.Network.Training;
using static TorchSharp.torch;

namespace Transformer.MLNet.Network.Tests.TokenClassification;

/// <summary>Words with no content (an empty string, spaces, a lone zero-width space) are never tagged as part of an entity.</summary>
[TestClass]
public sealed class BlankWordTests
{
    [TestMethod]
    public void A_blank_word_is_outside_even_when_the_model_tags_every_other_word_as_an_entity()
    {
        var tokenizer = TinyClassifiers.Tokenizer;
        Seeding.Apply(5);
        var encoder = new BertModel(TinyClassifiers.Config);
        using var classifier = TokenClassifier.Create(encoder, tokenizer, new TokenClassifierSettings(["O", "B-PER", "I-PER"], 32, 0.0));

        // A head biased so strongly towards B-PER that every real word is tagged as a person.
        var bias = classifier.Model.named_parameters().Single(p => p.name.EndsWith("classifier.bias", StringComparison.Ordinal)).parameter;
        using (no_grad())
            bias.copy_(tensor(new float[] { -50, 50, -50 }));

        string[] words = ["Ada", "", "Lovelace", "   ", "\u200B", "wrote", "\u200B"];
        var tagged = classifier.Predict([words])[0];
        string[] tags = [.. tagged.Labels.Select(l => classifier.Settings.Labels[l])];
        CollectionAssert.AreEqual(new[] { "B-PER", "O", "B-PER", "O", "O", "B-PER", "O" }, tags, string.Join(" ", tags));
        Assert.IsTrue(tagged.Entities.All(e => words[e.FirstWord..e.EndWord].All(w => !string.IsNullOrWhiteSpace(w) && w != "\u200B")));
        Assert.AreEqual(1f, tagged.Probabilities[1]);

        // The same sentence without the blank words gets the same tags on the real words.
        var plain = classifier.Predict([["Ada", "Lovelace", "wrote"]])[0];
        CollectionAssert.AreEqual(new[] { "B-PER", "B-PER", "B-PER" }, plain.Labels.Select(l => classifier.Settings.Labels[l]).ToArray());
    }
}
