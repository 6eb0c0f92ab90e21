using System.ComponentModel;
using System.Diagnostics;
using System.Text;
using System.Text.Json;
using Transformer.MLNet.Examples.Data;
using Transformer.MLNet.Network.Tokenization;

namespace Transformer.MLNet.Network.Tests.Tokenization.HuggingFace;

/// <summary>
/// Hugging Face's own BERT tokenizer: the JavaScript port <c>@huggingface/tokenizers</c>, run by node on a
/// <c>tokenizer.json</c> built from a vocabulary with the standard BERT uncased settings (those of
/// bert-base-uncased's tokenizer.json). npm installs the pinned package into <c>artifacts/hf-tokenizers</c> under
/// the repository root the first time; texts go to one node process in bulk, one JSON line each.
/// </summary>
internal sealed class HuggingFaceBertTokenizer
{
    public const string Package = "@huggingface/tokenizers";
    public const string PackageVersion = "0.2.0";

    private static readonly Lazy<string> InstallFolder = new(Install);

    private readonly string _tokenizerJson;

    public HuggingFaceBertTokenizer(BertTextTokenizer vocabulary) => _tokenizerJson = TokenizerJson(vocabulary);

    /// <summary>The ids of each text, <c>[CLS]</c> and <c>[SEP]</c> included, without truncation.</summary>
    /// <remarks>The texts are shared out among one node process per core (at most four).</remarks>
    public IReadOnlyList<int[]> Encode(IReadOnlyList<string> texts)
    {
        string folder = InstallFolder.Value;
        string work = Path.Combine(folder, "runs", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(work);
        try
        {
            string tokenizer = Path.Combine(work, "tokenizer.json");
            File.WriteAllText(tokenizer, _tokenizerJson);
            int processes = Math.Clamp(Environment.ProcessorCount, 1, 4), share = (texts.Count + processes - 1) / processes;
            var runs = Enumerable.Range(0, processes).Select(p => Task.Run(() =>
                EncodeInOneProcess(folder, tokenizer, Path.Combine(work, $"part{p}"), texts.Skip(p * share).Take(share).ToList()))).ToArray();
            var ids = runs.SelectMany(run => run.Result).ToList();
            if (ids.Count != texts.Count)
                throw new InvalidOperationException($"node returned {ids.Count} id lists for {texts.Count} texts.");
            return ids;
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }

    private static List<int[]> EncodeInOneProcess(string folder, string tokenizer, string files, List<string> texts)
    {
        string input = files + ".in.jsonl", output = files + ".out.jsonl";
        using (var writer = new StreamWriter(input, false, new UTF8Encoding(false)))
        {
            foreach (string text in texts)
                writer.Write(AsciiJsonString(text) + "\n");
        }

        string script = Path.Combine(RepositoryRoot(), "tests", "Transformer.MLNet.Network.Tests", "Tokenization", "HuggingFace", "encode-ids.mjs");
        var (exitCode, log) = Run("node", [script, folder, tokenizer, input, output], TimeSpan.FromMinutes(5));
        if (exitCode != 0)
            throw new InvalidOperationException($"node {script} failed with exit code {exitCode}:\n{log}");
        return [.. File.ReadAllLines(output).Select(line => JsonSerializer.Deserialize<int[]>(line)!)];
    }

    /// <summary>The repository root: the folder holding the solution file, above the test binaries.</summary>
    public static string RepositoryRoot() =>
        DataDirectory.RepositoryRoot ?? throw new InvalidOperationException($"No Transformer.MLNet.sln above {AppContext.BaseDirectory}; run the tests from a clone of the repository.");

    // Every character other than printable ASCII as a \uXXXX escape of its UTF-16 code unit, so that lone surrogates
    // reach JavaScript intact (a UTF-8 file cannot hold them) and a line holds exactly one text.
    private static string AsciiJsonString(string text)
    {
        var builder = new StringBuilder(text.Length + 2).Append('"');
        foreach (char c in text)
        {
            if (c is < ' ' or > '~' or '"' or '\\')
                builder.Append("\\u").Append(((int)c).ToString("X4", System.Globalization.CultureInfo.InvariantCulture));
            else
                builder.Append(c);
        }

        return builder.Append('"').ToString();
    }

    // bert-base-uncased's settings: BertNormalizer (clean_text, handle_chinese_chars, lowercase, strip_accents
    // following lowercase), BertPreTokenizer, WordPiece with "##" and max_input_chars_per_word 100, [CLS] $A [SEP],
    // and the five special tokens as added tokens matched in the raw text.
    private static string TokenizerJson(BertTextTokenizer vocabulary)
    {
        var ids = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int id = 0; id < vocabulary.VocabularySize; id++)
            ids[vocabulary.IdToToken(id)] = id;
        using var stream = new MemoryStream();
        using (var json = new Utf8JsonWriter(stream))
        {
            json.WriteStartObject();
            json.WriteString("version", "1.0");
            json.WriteNull("truncation");
            json.WriteNull("padding");
            json.WriteStartArray("added_tokens");
            foreach (string special in new[] { "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]" })
            {
                json.WriteStartObject();
                json.WriteNumber("id", ids[special]);
                json.WriteString("content", special);
                json.WriteBoolean("single_word", false);
                json.WriteBoolean("lstrip", false);
                json.WriteBoolean("rstrip", false);
                json.WriteBoolean("normalized", false);
                json.WriteBoolean("special", true);
                json.WriteEndObject();
            }

            json.WriteEndArray();
            json.WriteStartObject("normalizer");
            json.WriteString("type", "BertNormalizer");
            json.WriteBoolean("clean_text", true);
            json.WriteBoolean("handle_chinese_chars", true);
            json.WriteNull("strip_accents");
            json.WriteBoolean("lowercase", true);
            json.WriteEndObject();
            json.WriteStartObject("pre_tokenizer");
            json.WriteString("type", "BertPreTokenizer");
            json.WriteEndObject();
            json.WriteStartObject("post_processor");
            json.WriteString("type", "TemplateProcessing");
            json.WriteStartArray("single");
            WriteTemplateItem(json, "SpecialToken", "[CLS]");
            WriteTemplateItem(json, "Sequence", "A");
            WriteTemplateItem(json, "SpecialToken", "[SEP]");
            json.WriteEndArray();
            json.WriteStartArray("pair");
            WriteTemplateItem(json, "SpecialToken", "[CLS]");
            WriteTemplateItem(json, "Sequence", "A");
            WriteTemplateItem(json, "SpecialToken", "[SEP]");
            WriteTemplateItem(json, "Sequence", "B");
            WriteTemplateItem(json, "SpecialToken", "[SEP]");
            json.WriteEndArray();
            json.WriteStartObject("special_tokens");
            foreach (string special in new[] { "[CLS]", "[SEP]" })
            {
                json.WriteStartObject(special);
                json.WriteString("id", special);
                json.WriteStartArray("ids");
                json.WriteNumberValue(ids[special]);
                json.WriteEndArray();
                json.WriteStartArray("tokens");
                json.WriteStringValue(special);
                json.WriteEndArray();
                json.WriteEndObject();
            }

            json.WriteEndObject();
            json.WriteEndObject();
            json.WriteStartObject("decoder");
            json.WriteString("type", "WordPiece");
            json.WriteString("prefix", "##");
            json.WriteBoolean("cleanup", true);
            json.WriteEndObject();
            json.WriteStartObject("model");
            json.WriteString("type", "WordPiece");
            json.WriteString("unk_token", "[UNK]");
            json.WriteString("continuing_subword_prefix", "##");
            json.WriteNumber("max_input_chars_per_word", 100);
            json.WriteStartObject("vocab");
            for (int id = 0; id < vocabulary.VocabularySize; id++)
                json.WriteNumber(vocabulary.IdToToken(id), id);
            json.WriteEndObject();
            json.WriteEndObject();
            json.WriteEndObject();
        }

        return Encoding.UTF8.GetString(stream.ToArray());
    }

    private static void WriteTemplateItem(Utf8JsonWriter json, string kind, string id)
    {
        json.WriteStartObject();
        json.WriteStartObject(kind);
        json.WriteString("id", id);
        json.WriteNumber("type_id", 0);
        json.WriteEndObject();
        json.WriteEndObject();
    }

    private static string Install()
    {
        string folder = Path.Combine(RepositoryRoot(), "artifacts", "hf-tokenizers");
        string manifest = Path.Combine(folder, "node_modules", "@huggingface", "tokenizers", "package.json");
        if (InstalledVersion(manifest) == PackageVersion)
            return folder;

        Directory.CreateDirectory(folder);
        var (exitCode, log) = Run("npm", ["install", "--prefix", folder, "--no-save", "--no-package-lock", "--no-audit", "--no-fund", $"{Package}@{PackageVersion}"],
            TimeSpan.FromMinutes(5));
        if (exitCode != 0 || InstalledVersion(manifest) != PackageVersion)
        {
            throw new InvalidOperationException(
                $"Could not install {Package}@{PackageVersion} into {folder} (npm exit code {exitCode}). The Hugging Face parity tests " +
                $"need node 18 or later and npm with access to the npm registry.\n{log}");
        }

        return folder;
    }

    private static string? InstalledVersion(string manifest)
    {
        if (!File.Exists(manifest))
            return null;
        using var json = JsonDocument.Parse(File.ReadAllText(manifest));
        return json.RootElement.TryGetProperty("version", out var version) ? version.GetString() : null;
    }

    private static (int ExitCode, string Log) Run(string program, IEnumerable<string> arguments, TimeSpan timeout)
    {
        // npm is a batch file on Windows, which only the command interpreter runs.
        var start = OperatingSystem.IsWindows() ? new ProcessStartInfo("cmd.exe") { ArgumentList = { "/c", program } } : new ProcessStartInfo(program);
        foreach (string argument in arguments)
            start.ArgumentList.Add(argument);
        start.RedirectStandardOutput = true;
        start.RedirectStandardError = true;
        start.UseShellExecute = false;
        Process process;
        try
        {
            process = Process.Start(start) ?? throw new InvalidOperationException($"Could not start {program}.");
        }
        catch (Win32Exception error)
        {
            throw new InvalidOperationException($"Could not run '{program}' ({error.Message}); the Hugging Face parity tests need node 18 or later and npm on the PATH.", error);
        }

        using (process)
        {
            var output = process.StandardOutput.ReadToEndAsync();
            var errors = process.StandardError.ReadToEndAsync();
            if (!process.WaitForExit(timeout))
            {
                process.Kill(entireProcessTree: true);
                throw new TimeoutException($"{program} {string.Join(' ', start.ArgumentList)} did not finish within {timeout}.");
            }

            return (process.ExitCode, output.Result + errors.Result);
        }
    }
}
