using Transformer.MLNet.Network.Data;

namespace Transformer.MLNet.Network.Tests.Data;

[TestClass]
[DoNotParallelize]
public sealed class DataDirectoryTests
{
    [TestMethod]
    public void Finds_the_real_data_beside_the_repository()
    {
        string yelp = DataDirectory.Resolve("uci-sentiment-labelled-sentences", "yelp_labelled.txt");
        Assert.HasCount(1000, File.ReadAllText(yelp).Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    [TestMethod]
    public void The_environment_variable_wins_and_a_missing_file_names_both_places()
    {
        string? saved = Environment.GetEnvironmentVariable(DataDirectory.Variable);
        string elsewhere = Path.Combine(Path.GetTempPath(), "tmlnet-data-" + Guid.NewGuid().ToString("N"));
        try
        {
            Environment.SetEnvironmentVariable(DataDirectory.Variable, elsewhere);
            Assert.AreEqual(Path.GetFullPath(elsewhere), DataDirectory.Root);
            var error = Assert.ThrowsExactly<FileNotFoundException>(() => DataDirectory.Resolve("nothing.txt"));
            StringAssert.Contains(error.Message, DataDirectory.Variable);
            StringAssert.Contains(error.Message, "../shared/data");
        }
        finally
        {
            Environment.SetEnvironmentVariable(DataDirectory.Variable, saved);
        }
    }
}
