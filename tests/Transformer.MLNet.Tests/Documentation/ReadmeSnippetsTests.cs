using System.Text.RegularExpressions;
using Transformer.MLNet.Tests.Infrastructure;

namespace Transformer.MLNet.Tests.Documentation;

[TestClass]
public sealed partial class ReadmeSnippetsTests
{
    [TestMethod]
    public void Every_csharp_snippet_of_the_README_is_compiled_line_for_line()
    {
        string root = ExternalProcess.RepositoryRoot;
        var compiled = File.ReadAllLines(Path.Combine(root, "tests", "Transformer.MLNet.Tests", "Documentation", "ReadmeSnippets.cs"))
            .Select(l => l.Trim()).ToHashSet(StringComparer.Ordinal);
        var blocks = CSharpBlock().Matches(File.ReadAllText(Path.Combine(root, "README.md"))).Select(m => m.Groups[1].Value).ToList();

        Assert.IsGreaterThanOrEqualTo(5, blocks.Count, "README should show the components in C#");
        var missing = blocks.SelectMany(b => b.Split('\n'))
            .Select(l => l.Trim())
            .Where(l => l.Length > 0 && !compiled.Contains(l))
            .ToList();
        Assert.IsEmpty(missing, "README lines not in ReadmeSnippets.cs:\n" + string.Join("\n", missing));
    }

    // ```csharp blocks only: a ```cs block marks code that needs a package our feed lacks (AutoML).
    [GeneratedRegex(@"```csharp\n(.*?)```", RegexOptions.Singleline)]
    private static partial Regex CSharpBlock();
}
