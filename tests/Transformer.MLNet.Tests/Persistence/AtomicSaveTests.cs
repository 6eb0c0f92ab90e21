using Microsoft.ML;
using Microsoft.ML.Data;
using Transformer.MLNet.Network.IO;
using Transformer.MLNet.Persistence;

namespace Transformer.MLNet.Tests.Persistence;

/// <summary>A save that fails midway leaves the previous file whole and loadable, and no temporary file behind.</summary>
[TestClass]
public sealed class AtomicSaveTests
{
    private string folder = "";

    [TestInitialize]
    public void CreateFolder()
    {
        folder = Path.Combine(Path.GetTempPath(), "atomic-save-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(folder);
    }

    [TestCleanup]
    public void DeleteFolder() => Directory.Delete(folder, recursive: true);

    [TestMethod]
    public void A_write_that_fails_midway_keeps_the_previous_file_and_leaves_no_temporary_file()
    {
        string path = Path.Combine(folder, "weights.bin");
        AtomicFile.WriteAllBytes(path, [1, 2, 3]);
        var error = Assert.ThrowsExactly<IOException>(() => AtomicFile.Write(path, stream =>
        {
            stream.Write(new byte[4096]);
            throw new IOException("No space left on device");
        }));
        Assert.AreEqual("No space left on device", error.Message);
        CollectionAssert.AreEqual(new byte[] { 1, 2, 3 }, File.ReadAllBytes(path));
        CollectionAssert.AreEqual(new[] { path }, Directory.GetFiles(folder));

        AtomicFile.WriteAllText(path, "replaced");
        Assert.AreEqual("replaced", File.ReadAllText(path));
        CollectionAssert.AreEqual(new[] { path }, Directory.GetFiles(folder));
    }

    [TestMethod]
    public void SavePipeline_failing_midway_keeps_the_previous_archive_intact_and_loadable()
    {
        TransformerPersisters.Register(new FailingPersister());
        var mlContext = new MLContext(seed: 2);
        var data = mlContext.Data.LoadFromEnumerable(UciSentences.Read("yelp").Take(20).ToList());
        var normalize = mlContext.Transforms.Text.NormalizeText("Clean", nameof(SentenceRow.Text)).Fit(data);
        string path = Path.Combine(folder, "pipeline.zip");
        mlContext.Model.SavePipeline(normalize, data.Schema, path);
        byte[] before = File.ReadAllBytes(path);

        // The ML.NET segment is already in the file when the second segment's writer fails.
        var failing = new TransformerChain<ITransformer>(normalize, new FailingTransformer());
        var error = Assert.ThrowsExactly<IOException>(() => mlContext.Model.SavePipeline(failing, data.Schema, path));
        StringAssert.Contains(error.Message, "disk full");

        CollectionAssert.AreEqual(before, File.ReadAllBytes(path));
        CollectionAssert.AreEqual(new[] { path }, Directory.GetFiles(folder));
        var loaded = new MLContext().Model.LoadPipeline(path, out _);
        CollectionAssert.AreEqual(
            normalize.Transform(data).GetColumn<string>("Clean").ToArray(),
            loaded.Transform(data).GetColumn<string>("Clean").ToArray());
    }

    private sealed class FailingTransformer : ITransformer
    {
        public bool IsRowToRowMapper => false;

        public DataViewSchema GetOutputSchema(DataViewSchema inputSchema) => inputSchema;

        public IRowToRowMapper GetRowToRowMapper(DataViewSchema inputSchema) => throw new NotSupportedException();

        public IDataView Transform(IDataView input) => input;

        void ICanSaveModel.Save(ModelSaveContext ctx) => throw new NotSupportedException();
    }

    private sealed class FailingPersister : ITransformerPersister
    {
        public string Kind => "Tests.Failing";

        public bool CanSave(ITransformer transformer) => transformer is FailingTransformer;

        public void Save(ITransformer transformer, SegmentWriter segment) =>
            segment.Write("weights.bin", stream =>
            {
                stream.Write(new byte[1 << 16]);
                throw new IOException("disk full");
            });

        public ITransformer Load(SegmentReader segment) => throw new NotSupportedException();
    }
}
