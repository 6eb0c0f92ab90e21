using System.Security.Cryptography;
using Transformer.MLNet.Examples.Data;

namespace Transformer.MLNet.Network.Tests.Data;

[TestClass]
[DoNotParallelize]
public sealed class DataDirectoryTests
{
    [TestMethod]
    public void Finds_the_real_data_in_the_repository()
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
            StringAssert.Contains(error.Message, "unset it to use the repository's data/ folder");
        }
        finally
        {
            Environment.SetEnvironmentVariable(DataDirectory.Variable, saved);
        }
    }

    [TestMethod]
    public void Every_data_set_matches_its_checksums_and_names_its_licence()
    {
        string[] sets = ["stsbenchmark", "tatoeba-spa-eng", "tiny-shakespeare", "uci-sentiment-labelled-sentences", "uner-english-ewt"];
        foreach (string set in sets)
        {
            string folder = DataDirectory.Resolve(set);
            Assert.IsTrue(File.Exists(Path.Combine(folder, "SOURCE.md")), $"{set} has no SOURCE.md (upstream and licence)");
            var listed = new HashSet<string>(StringComparer.Ordinal);
            foreach (string line in File.ReadAllLines(Path.Combine(folder, "SHA256SUMS")))
            {
                string expected = line[..64], name = line[66..];
                listed.Add(name);
                string actual = Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(Path.Combine(folder, name))));
                Assert.AreEqual(expected, actual, $"{set}/{name} differs from its SHA256SUMS entry");
            }

            var unlisted = Directory.GetFiles(folder).Select(Path.GetFileName)
                .Where(n => n is not ("SHA256SUMS" or "SOURCE.md") && !listed.Contains(n!)).ToList();
            Assert.IsEmpty(unlisted, $"{set} has files missing from its SHA256SUMS: {string.Join(", ", unlisted)}");
        }
    }
}
