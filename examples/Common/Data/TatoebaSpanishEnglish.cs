using System.IO.Compression;
using System.Text;
using Transformer.MLNet.Network.Generation;

namespace Transformer.MLNet.Examples.Data;

/// <summary>
/// The Tatoeba Spanish–English sentence pairs of manythings.org/anki (<c>tatoeba-spa-eng/spa.txt.gz</c>, CC BY 2.0 FR):
/// gzip of <c>english&lt;TAB&gt;spanish</c> lines, read here as Spanish → English pairs.
/// </summary>
public static class TatoebaSpanishEnglish
{
    /// <summary>Folder of the data set under the data directory.</summary>
    public const string Folder = "tatoeba-spa-eng";

    /// <summary>File name of the data set.</summary>
    public const string FileName = "spa.txt.gz";

    /// <summary>Reads every pair, Spanish as source and English as target.</summary>
    /// <param name="path">The gzip file; by default found through <see cref="DataDirectory"/>.</param>
    /// <returns>The pairs in file order.</returns>
    /// <exception cref="InvalidDataException">A line does not have exactly two tab-separated fields.</exception>
    public static IReadOnlyList<TranslationPair> Load(string? path = null)
    {
        path ??= DataDirectory.Resolve(Folder, FileName);
        using var file = File.OpenRead(path);
        using var gzip = new GZipStream(file, CompressionMode.Decompress);
        using var reader = new StreamReader(gzip, Encoding.UTF8);
        var pairs = new List<TranslationPair>();
        int lineNumber = 0;
        while (reader.ReadLine() is { } line)
        {
            lineNumber++;
            if (line.Length == 0)
                continue;
            string[] fields = line.Split('\t');
            if (fields.Length != 2)
                throw new InvalidDataException($"{path}, line {lineNumber}: expected 'english<TAB>spanish', found {fields.Length} fields.");
            pairs.Add(new TranslationPair(Source: fields[1], Target: fields[0]));
        }

        return pairs;
    }
}
