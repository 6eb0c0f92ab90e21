using System.IO.Compression;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.ML;
using Microsoft.ML.Data;
using Transformer.MLNet.Persistence;
using Transformer.MLNet.Tests.Persistence;

namespace Transformer.MLNet.Tests.Reliability;

/// <summary>
/// Truncated, corrupted, version-bumped and tampered pipeline archives fail to load with an <see cref="InvalidDataException"/>
/// that says what is wrong; a checksum guards every entry; loading reads data, never code.
/// </summary>
[TestClass]
public sealed class PipelineArchiveDamageTests
{
    private static byte[] archive = [];
    private static MLContext mlContext = null!;

    [ClassInitialize]
    public static void Initialize(TestContext context)
    {
        mlContext = TinyPipelines.Context;
        var pipeline = mlContext.Transforms.Text.NormalizeText("Clean", nameof(SentenceRow.Text))
            .Append(mlContext.Transforms.CopyColumns("Original", nameof(SentenceRow.Text)))
            .Fit(TinyPipelines.TrainingData)
            .Append(TinyPipelines.BinaryModel);
        using var stream = new MemoryStream();
        mlContext.Model.SavePipeline(pipeline, TinyPipelines.TrainingData.Schema, stream);
        archive = stream.ToArray();
    }

    private static InvalidDataException LoadFails(byte[] bytes, params string[] fragments)
    {
        var error = Assert.ThrowsExactly<InvalidDataException>(() => mlContext.Model.LoadPipeline(new MemoryStream(bytes), out _));
        foreach (string fragment in fragments)
            StringAssert.Contains(error.Message, fragment);
        return error;
    }

    private static byte[] Edit(string entryName, Func<byte[], byte[]?> change) => ArchiveEditor.Edit(archive, entryName, change);

    private static byte[] EditManifest(Action<JsonObject> change) => ArchiveEditor.EditManifest(archive, change);

    private static string WeightsEntry()
    {
        using var zip = new ZipArchive(new MemoryStream(archive), ZipArchiveMode.Read);
        return zip.Entries.Single(e => e.FullName.EndsWith("model.safetensors", StringComparison.Ordinal)).FullName;
    }

    [TestMethod]
    [TestCategory("Reliability")]
    public void The_intact_archive_loads_and_scores_as_saved()
    {
        var loaded = mlContext.Model.LoadPipeline(new MemoryStream(archive), out _);
        var data = TinyPipelines.Rows("great food", "", "awful service");
        var expected = TinyPipelines.BinaryModel.Transform(mlContext.Transforms.Text.NormalizeText("Clean", "Text").Fit(data).Transform(data))
            .GetColumn<float>("Score").ToArray();
        CollectionAssert.AreEqual(expected, loaded.Transform(data).GetColumn<float>("Score").ToArray());
    }

    [TestMethod]
    [TestCategory("Reliability")]
    public void Truncated_empty_or_foreign_files_are_refused()
    {
        foreach (int length in new[] { 0, 10, archive.Length / 3, archive.Length - 30 })
            LoadFails(archive[..length], "not a readable pipeline archive");
        LoadFails(Encoding.UTF8.GetBytes("System.Diagnostics.Process.Start(\"sh\")"), "not a readable pipeline archive");

        // A model saved by ML.NET itself is a zip without our manifest.
        var mlnetOnly = mlContext.Transforms.Text.NormalizeText("Clean", "Text").Fit(TinyPipelines.TrainingData);
        using var stream = new MemoryStream();
        mlContext.Model.Save(mlnetOnly, TinyPipelines.TrainingData.Schema, stream);
        LoadFails(stream.ToArray(), "no 'manifest.json' entry", "mlContext.Model.Load");
    }

    // Loads `bytes` from a file (so errors can name it) and checks the error names the file and holds each fragment.
    private static InvalidDataException LoadFileFails(byte[] bytes, params string[] fragments)
    {
        string path = Path.Combine(Path.GetTempPath(), $"damaged-{Guid.NewGuid():N}.zip");
        File.WriteAllBytes(path, bytes);
        try
        {
            var error = Assert.ThrowsExactly<InvalidDataException>(() => mlContext.Model.LoadPipeline(path, out _));
            StringAssert.Contains(error.Message, path);
            foreach (string fragment in fragments)
                StringAssert.Contains(error.Message, fragment);
            return error;
        }
        finally
        {
            File.Delete(path);
        }
    }

    private static byte[] Garbage(int length)
    {
        var bytes = new byte[length];
        new Random(7).NextBytes(bytes);
        return bytes;
    }

    [TestMethod]
    [TestCategory("Reliability")]
    public void A_file_cut_to_its_first_hundredth_is_refused_naming_the_file()
    {
        // The cut keeps only input-schema.zip, itself a zip whose end record the reader finds first.
        byte[] cut = archive[..(archive.Length / 100)];
        LoadFileFails(cut, "not a readable pipeline archive", "save the pipeline again", "SavePipeline");
        LoadFails(cut, "not a readable pipeline archive");
    }

    [TestMethod]
    [TestCategory("Reliability")]
    public void A_file_with_junk_before_the_archive_is_refused_naming_the_file()
    {
        byte[] prefixed = [.. Garbage(100), .. archive];
        LoadFileFails(prefixed, "not a readable pipeline archive", "SavePipeline");
        LoadFails(prefixed, "not a readable pipeline archive");
    }

    [TestMethod]
    [TestCategory("Reliability")]
    public void Empty_random_and_truncated_files_are_refused_naming_the_file()
    {
        LoadFileFails([], "not a readable pipeline archive", "SavePipeline");
        LoadFileFails(Garbage(4096), "not a readable pipeline archive");
        LoadFileFails(archive[..(archive.Length / 2)], "not a readable pipeline archive");

        // A zip that is not a pipeline: the message names the file as well.
        using var stream = new MemoryStream();
        mlContext.Model.Save(mlContext.Transforms.Text.NormalizeText("Clean", "Text").Fit(TinyPipelines.TrainingData), TinyPipelines.TrainingData.Schema, stream);
        LoadFileFails(stream.ToArray(), "no 'manifest.json' entry");

        // Errors that name no file of their own are given its name too.
        LoadFileFails(EditManifest(m => m["formatVersion"] = 3), "format version 3");
    }

    [TestMethod]
    [TestCategory("Reliability")]
    public void Garbage_ML_NET_entries_with_matching_checksums_are_refused_naming_the_entry()
    {
        foreach (string entry in new[] { ArchiveEditor.InputSchemaEntry, "segments/0/model.zip" })
        {
            byte[] damaged = ArchiveEditor.EditAndChecksum(archive, entry, b => Garbage(b.Length));
            var error = LoadFails(damaged, $"'{entry}'", "save the pipeline again");
            Assert.IsNotNull(error.InnerException, "ML.NET's own error is kept.");
            LoadFileFails(damaged, $"'{entry}'", "save the pipeline again");
        }
    }

    [TestMethod]
    [TestCategory("Reliability")]
    public void Garbage_weights_with_a_matching_checksum_are_refused_naming_the_segment()
    {
        string weights = WeightsEntry();
        byte[] damaged = ArchiveEditor.EditAndChecksum(archive, weights, b => Garbage(b.Length));
        LoadFails(damaged, "segments/1/");
        LoadFileFails(damaged, "segments/1/");
    }

    [TestMethod]
    [TestCategory("Reliability")]
    public void Weights_holding_NaN_with_a_matching_checksum_are_refused_naming_the_entry_and_the_tensor()
    {
        string weights = WeightsEntry();
        byte[] damaged = ArchiveEditor.EditAndChecksum(archive, weights, bytes =>
        {
            // safetensors: an 8-byte header length, the JSON header, then the tensors' data; the first float becomes NaN.
            int data = 8 + (int)BitConverter.ToUInt64(bytes, 0);
            BitConverter.GetBytes(float.NaN).CopyTo(bytes, data);
            return bytes;
        });
        LoadFails(damaged, weights, "hold non-finite values", "has 1 NaN or infinite");
    }

    [TestMethod]
    [TestCategory("Reliability")]
    public void A_loaded_model_given_data_without_its_text_column_names_the_option_that_named_it()
    {
        using var stream = new MemoryStream();
        mlContext.Model.SavePipeline(TinyPipelines.BinaryModel, TinyPipelines.TrainingData.Schema, stream);
        stream.Position = 0;
        var loaded = mlContext.Model.LoadPipeline(stream, out _);
        var other = mlContext.Data.LoadFromEnumerable(new[] { new { Review = "great food" } });
        var error = Assert.Throws<ArgumentException>(() => loaded.Transform(other));
        StringAssert.Contains(error.Message, "Input column 'Text' (TextColumnName) is not in the data. Columns: Review");
    }

    [TestMethod]
    [TestCategory("Reliability")]
    public void Saving_to_a_missing_folder_a_folder_or_a_read_only_stream_fails_naming_what_the_user_gave()
    {
        string missing = Path.Combine(Path.GetTempPath(), $"missing-{Guid.NewGuid():N}", "model.zip");
        var error = Assert.ThrowsExactly<DirectoryNotFoundException>(() =>
            mlContext.Model.SavePipeline(TinyPipelines.BinaryModel, TinyPipelines.TrainingData.Schema, missing));
        StringAssert.Contains(error.Message, $"Cannot write '{missing}': its folder");
        Assert.DoesNotContain(".tmp", error.Message);

        string folder = Path.GetTempPath();
        var isFolder = Assert.ThrowsExactly<IOException>(() =>
            mlContext.Model.SavePipeline(TinyPipelines.BinaryModel, TinyPipelines.TrainingData.Schema, folder));
        StringAssert.Contains(isFolder.Message, $"'{folder}' is a folder");

        using var readOnly = new MemoryStream(new byte[16], writable: false);
        var stream = Assert.ThrowsExactly<ArgumentException>(() =>
            mlContext.Model.SavePipeline(TinyPipelines.BinaryModel, TinyPipelines.TrainingData.Schema, readOnly));
        Assert.AreEqual("stream", stream.ParamName);

        string file = Path.GetTempFileName();
        try
        {
            var export = Assert.ThrowsExactly<IOException>(() => mlContext.Model.ExportOnnx(TinyPipelines.BinaryModel, file));
            StringAssert.Contains(export.Message, $"'{file}' is a file, not a folder");
        }
        finally
        {
            File.Delete(file);
        }
    }

    [TestMethod]
    [TestCategory("Reliability")]
    public void A_vocabulary_cut_short_with_an_updated_checksum_is_refused_naming_the_entry()
    {
        string vocabulary = WeightsEntry().Replace("model.safetensors", "vocab.txt", StringComparison.Ordinal);
        foreach (bool half in new[] { true, false })
        {
            byte[] damaged = ArchiveEditor.EditAndChecksum(archive, vocabulary, bytes =>
            {
                var lines = Encoding.UTF8.GetString(bytes).Split('\n');
                int kept = half ? lines.Length / 2 : lines.Length - 2;   // half of it, or the last token gone
                return Encoding.UTF8.GetBytes(string.Join('\n', lines[..kept]) + "\n");
            });
            LoadFails(damaged, $"'{vocabulary}'", "vocab_size", "same model");
        }
    }

    [TestMethod]
    [TestCategory("Reliability")]
    public void A_checksum_guards_every_entry_and_the_weights()
    {
        string weights = WeightsEntry();
        LoadFails(Edit(weights, b => { b[b.Length / 2] ^= 0x40; return b; }), weights, "is corrupt: SHA-256");
        LoadFails(Edit(weights, b => b[..(b.Length - 4)]), weights, "is corrupt");
        LoadFails(Edit(weights, _ => null), weights, "missing");
        string settings = weights.Replace("model.safetensors", "classifier.json", StringComparison.Ordinal);
        LoadFails(Edit(settings, b => Encoding.UTF8.GetBytes(Encoding.UTF8.GetString(b).Replace("0.1", "0.2", StringComparison.Ordinal))), settings, "SHA-256");
        LoadFails(Edit("input-schema.zip", b => { b[b.Length / 2] ^= 0x01; return b; }), "input-schema.zip", "SHA-256");
        LoadFails(Edit("segments/0/model.zip", b => { b[^10] ^= 0x01; return b; }), "segments/0/model.zip", "SHA-256");
    }

    [TestMethod]
    [TestCategory("Reliability")]
    public void Wrong_format_versions_and_a_tampered_manifest_are_refused()
    {
        LoadFails(EditManifest(m => m["formatVersion"] = 3), "format version 3", "Update the library");
        LoadFails(EditManifest(m => m["formatVersion"] = 0), "format version 0");
        LoadFails(EditManifest(m => m["format"] = "Something.Else"), "not a Transformer.MLNet pipeline archive");
        LoadFails(Edit(PipelineManifest.EntryName, b => b[..(b.Length / 2)]), "manifest.json", "not valid");
        LoadFails(EditManifest(m => m.Remove("segments")), "lists no segments");
        LoadFails(EditManifest(m => m["segments"]![0]!["folder"] = "../../"), "Segment 0", "malformed");
        LoadFails(EditManifest(m => m["segments"]![1]!["files"] = new JsonObject()), "Segment 1", "malformed");

        // The kind is looked up among this library's persisters; a type name is never instantiated.
        var typeName = LoadFails(EditManifest(m => m["segments"]![1]!["kind"] = "System.Diagnostics.Process, System.Diagnostics.Process"),
            "does not know", "Update the library");
        StringAssert.Contains(typeName.Message, "Transformer.MLNet.BinaryTextClassification");

        // Pointing the checksums at altered weights needs the manifest changed too: the hash then no longer matches the manifest's.
        string weights = WeightsEntry();
        LoadFails(EditManifest(m => m["segments"]![1]!["files"]!["classifier/model.safetensors"] = new string('0', 64)), weights, "SHA-256");
    }

    [TestMethod]
    [TestCategory("Reliability")]
    public void Edited_settings_with_updated_checksums_are_refused_naming_the_entry_and_its_key()
    {
        static void NamesTheEntryOnly(InvalidDataException error)
        {
            Assert.DoesNotContain("TransformerConfig", error.Message);
            Assert.DoesNotContain("TextClassifierSettings", error.Message);
            // The archive's private extraction folder, not any path under the temp folder: the repository itself may live there.
            Assert.DoesNotContain(Path.Combine(Path.GetTempPath(), "transformer-mlnet-"), error.Message);
        }

        NamesTheEntryOnly(LoadFails(
            ArchiveEditor.EditJsonAndChecksum(archive, "segments/1/transformer.json", j => j["batchSize"] = 0),
            "segments/1/transformer.json: batchSize = 0 is invalid: must be at least 1"));
        NamesTheEntryOnly(LoadFails(
            ArchiveEditor.EditJsonAndChecksum(archive, "segments/1/classifier/config.json", j => j["num_attention_heads"] = 7),
            "'segments/1/classifier/config.json': num_attention_heads = 7 is invalid: must be positive and divide hidden_size"));
        NamesTheEntryOnly(LoadFails(
            ArchiveEditor.EditJsonAndChecksum(archive, "segments/1/classifier/config.json", j => j["vocab_size"] = "many"),
            "'segments/1/classifier/config.json': vocab_size = \"many\" is invalid: must be an integer"));
        NamesTheEntryOnly(LoadFails(
            ArchiveEditor.EditJsonAndChecksum(archive, "segments/1/classifier/classifier.json", j => j["MaxTokens"] = 1),
            "'segments/1/classifier' has an invalid classifier.json", "MaxTokens"));
    }

    // The archive with `size` bytes of `fill` before one entry's content (instead of it unless keepContent),
    // that entry deflated at the smallest size (a run of one byte deflates about 1000:1, so 100 MB take about 100 KB), the others
    // at the fastest.
    private static byte[] Inflating(string entryName, long size, byte fill = 0, bool keepContent = true)
    {
        using var source = new ZipArchive(new MemoryStream(archive), ZipArchiveMode.Read);
        using var result = new MemoryStream();
        using (var target = new ZipArchive(result, ZipArchiveMode.Create, leaveOpen: true))
        {
            foreach (var entry in source.Entries)
            {
                var level = entry.FullName == entryName ? CompressionLevel.SmallestSize : CompressionLevel.Fastest;
                using var write = target.CreateEntry(entry.FullName, level).Open();
                if (entry.FullName == entryName)
                {
                    byte[] chunk = new byte[1 << 20];
                    Array.Fill(chunk, fill);
                    for (long left = size; left > 0; left -= chunk.Length)
                        write.Write(chunk, 0, (int)Math.Min(left, chunk.Length));
                }

                if (keepContent || entry.FullName != entryName)
                {
                    using var read = entry.Open();
                    read.CopyTo(write);
                }
            }
        }

        return result.ToArray();
    }

    // Sets the uncompressed size an entry declares, in its local header and in the central directory, as a crafted archive may.
    private static byte[] DeclaringLength(byte[] zip, string entryName, uint length)
    {
        byte[] name = Encoding.UTF8.GetBytes(entryName);
        int patched = 0;
        for (int i = 0; i + 46 + name.Length <= zip.Length; i++)
        {
            uint signature = BitConverter.ToUInt32(zip, i);
            (int sizeAt, int nameAt, int nameLengthAt) = signature switch
            {
                0x04034b50 => (22, 30, 26),
                0x02014b50 => (24, 46, 28),
                _ => (-1, -1, -1),
            };
            if (sizeAt < 0 || BitConverter.ToUInt16(zip, i + nameLengthAt) != name.Length || !zip.AsSpan(i + nameAt, name.Length).SequenceEqual(name))
                continue;
            BitConverter.TryWriteBytes(zip.AsSpan(i + sizeAt, 4), length);
            patched++;
        }

        Assert.AreEqual(2, patched, $"{entryName}: local header and central directory record");
        return zip;
    }

    [TestMethod]
    [TestCategory("Reliability")]
    public void A_manifest_that_inflates_far_beyond_its_cap_is_refused_at_once_naming_the_file_and_the_entry()
    {
        // 200 MB of spaces in a file of about 200 KB; the audit's 2.5 GB one drove memory to 5.4 GB and ended in an IOException.
        string path = Path.Combine(Path.GetTempPath(), $"bomb-{Guid.NewGuid():N}.zip");
        File.WriteAllBytes(path, Inflating(PipelineManifest.EntryName, 200L << 20, (byte)' '));
        try
        {
            long allocated = GC.GetAllocatedBytesForCurrentThread();
            var error = Assert.ThrowsExactly<InvalidDataException>(() => mlContext.Model.LoadPipeline(path, out _));
            allocated = GC.GetAllocatedBytesForCurrentThread() - allocated;
            foreach (string fragment in new[] { path, "'manifest.json'", "declares an inflated size of 209,71", "64 MiB", "SavePipeline" })
                StringAssert.Contains(error.Message, fragment);
            Assert.IsLessThan(16L << 20, allocated, "The entry was refused by its declared size, before reading it.");
        }
        finally
        {
            File.Delete(path);
        }
    }

    [TestMethod]
    [TestCategory("Reliability")]
    public void An_entry_that_inflates_beyond_the_size_it_declares_is_stopped_at_the_cap()
    {
        var limits = ArchiveEntryLimits.Default with { MaxTextEntryBytes = 1L << 20, MaxBinaryEntryBytes = 200, MinBytesForRatioCheck = 1L << 30 };

        // A stored (uncompressed) entry of more bytes than it declares: the bytes read are counted against the cap.
        byte[] storedLying = DeclaringLength((byte[])archive.Clone(), "input-schema.zip", 100);
        var stored = Assert.ThrowsExactly<InvalidDataException>(() => PipelineArchive.Load(mlContext.Model, new MemoryStream(storedLying), out _, limits));
        StringAssert.Contains(stored.Message, "'input-schema.zip' of the pipeline archive inflates to more than the 200 bytes allowed for a weights or model entry (it declares 100 bytes)");

        // 8 MiB of zeros deflated and declared as 100 bytes: .NET stops inflating at the declared size, and the cut entry is
        // refused; either way the entry is never buffered whole.
        byte[] deflatedLying = DeclaringLength(Inflating(PipelineManifest.EntryName, 8L << 20), PipelineManifest.EntryName, 100);
        long allocated = GC.GetAllocatedBytesForCurrentThread();
        var deflated = Assert.ThrowsExactly<InvalidDataException>(() => PipelineArchive.Load(mlContext.Model, new MemoryStream(deflatedLying), out _, limits));
        allocated = GC.GetAllocatedBytesForCurrentThread() - allocated;
        StringAssert.Contains(deflated.Message, "manifest.json");
        Assert.IsLessThan(6L << 20, allocated);

        // Declared truthfully, the same entry is refused by the cap before it is read.
        var capped = Assert.ThrowsExactly<InvalidDataException>(
            () => PipelineArchive.Load(mlContext.Model, new MemoryStream(Inflating(PipelineManifest.EntryName, 8L << 20)), out _, limits));
        StringAssert.Contains(capped.Message, "'manifest.json' of the pipeline archive declares an inflated size of 8,38");
        StringAssert.Contains(capped.Message, "1 MiB allowed for a settings, manifest or vocabulary entry");
    }

    [TestMethod]
    [TestCategory("Reliability")]
    public void Weights_that_deflate_at_an_absurd_ratio_are_refused_naming_the_entry()
    {
        // Weights are stored uncompressed; 64 MiB of zeros deflated into a few tens of KB is not a real model.
        string weights = WeightsEntry();
        LoadFails(Inflating(weights, 64L << 20, keepContent: false), $"Entry '{weights}'", "compressed bytes, a ratio above the 256:1", "SavePipeline");

        // The same archive with every entry deflated (as an unzip and re-zip would) is within the limits and loads.
        var loaded = mlContext.Model.LoadPipeline(new MemoryStream(Inflating("no such entry", 0)), out _);
        Assert.IsNotNull(loaded);
    }
}
