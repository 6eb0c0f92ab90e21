using System.Text.Json;
using Transformer.MLNet.Tests.Infrastructure;

namespace Transformer.MLNet.Tests.Notebooks;

/// <summary>Executes every notebook headless with dotnet-repl; a failing cell fails the test.</summary>
[TestClass]
[TestCategory("Notebooks")]
[DoNotParallelize]
public sealed class NotebookTests
{
    private const string ReplVersion = "0.3.259";

    public static IEnumerable<object[]> Notebooks() =>
        Directory.GetFiles(Path.Combine(ExternalProcess.RepositoryRoot, "notebooks"), "*.ipynb")
            .Order(StringComparer.Ordinal)
            .Select(path => new object[] { Path.GetFileName(path) });

    [TestMethod]
    [DynamicData(nameof(Notebooks))]
    [Timeout(15 * 60 * 1000, CooperativeCancellation = true)]
    public void Notebook_runs_without_a_failing_cell_and_renders_its_pictures(string notebook)
    {
        string root = ExternalProcess.RepositoryRoot;
        string folder = Path.Combine(root, "notebooks");
        // The notebooks' #r lines load the library from artifacts/notebook-bin, which this project builds.
        ExternalProcess.Run("dotnet", $"build \"{Path.Combine(folder, "Transformer.MLNet.Notebooks.csproj")}\" -c Release --nologo -v q", root, TimeSpan.FromMinutes(5));

        string output = Path.Combine(root, "artifacts", "notebooks", notebook);
        Directory.CreateDirectory(Path.GetDirectoryName(output)!);
        var (exitCode, log) = ExternalProcess.Run(Repl(root), $"--run \"{notebook}\" --exit-after-run --output-path \"{output}\"", folder, TimeSpan.FromMinutes(12), check: false);

        var errors = new List<string>();
        int pictures = 0;
        using (var document = JsonDocument.Parse(File.ReadAllText(output)))
        {
            foreach (var cell in document.RootElement.GetProperty("cells").EnumerateArray())
            {
                if (!cell.TryGetProperty("outputs", out var outputs))
                    continue;
                foreach (var o in outputs.EnumerateArray())
                {
                    string text = o.GetRawText();
                    if (o.TryGetProperty("output_type", out var type) && type.GetString() == "error")
                        errors.Add(text.Length > 600 ? text[..600] : text);
                    if (text.Contains("data:image/png;base64", StringComparison.Ordinal) || text.Contains("\"image/png\"", StringComparison.Ordinal))
                        pictures++;
                }
            }
        }

        Assert.IsEmpty(errors, $"{notebook}: failing cells:\n{string.Join("\n", errors)}");
        Assert.AreEqual(0, exitCode, $"{notebook}: dotnet-repl exited with {exitCode}\n{log}");
        Assert.IsGreaterThan(0, pictures, $"{notebook} rendered no picture");
    }

    private static string Repl(string root)
    {
        string local = Path.Combine(root, "artifacts", "tools");
        string tool = Path.Combine(local, "dotnet-repl");
        if (!File.Exists(tool))
            ExternalProcess.Run("dotnet", $"tool install dotnet-repl --version {ReplVersion} --tool-path \"{local}\"", root, TimeSpan.FromMinutes(5));
        return tool;
    }
}
