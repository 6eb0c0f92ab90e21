namespace Transformer.MLNet.Examples.Data;

/// <summary>One sentence of Universal NER: its raw text, its words and one IOB2 tag per word.</summary>
/// <param name="Id">The <c># sent_id</c> of the sentence.</param>
/// <param name="Text">The <c># text</c> line: the sentence as written, which the words are taken from.</param>
/// <param name="Words">The words (tokens) of the sentence.</param>
/// <param name="Tags">One IOB2 tag per word (<c>O</c>, <c>B-PER</c>, <c>I-LOC</c>, …).</param>
public sealed record NerSentence(string Id, string Text, IReadOnlyList<string> Words, IReadOnlyList<string> Tags);

/// <summary>
/// Reads Universal NER v1 files (Mayhew et al., NAACL 2024; <c>uner-english-ewt/en_ewt-ud-{dev,test}.iob2</c>):
/// <c># sent_id</c> and <c># text</c> comment lines, then <c>index&lt;TAB&gt;word&lt;TAB&gt;tag&lt;TAB&gt;…</c> lines
/// (extra columns are annotator ids), a blank line between sentences.
/// </summary>
public static class UniversalNer
{
    /// <summary>Folder of the English Web Treebank part under the data directory.</summary>
    public const string Folder = "uner-english-ewt";

    /// <summary>Reads one split of the English Web Treebank part.</summary>
    /// <param name="split">"dev" or "test" (the official train file is not distributed with this data set).</param>
    /// <returns>The sentences in file order.</returns>
    public static IReadOnlyList<NerSentence> ReadEnglishEwt(string split) =>
        Read(DataDirectory.Resolve(Folder, $"en_ewt-ud-{split}.iob2"));

    /// <summary>Reads a Universal NER <c>.iob2</c> file.</summary>
    /// <param name="path">The file.</param>
    /// <returns>The sentences in file order.</returns>
    /// <exception cref="InvalidDataException">A token line has fewer than three columns or a non-numeric index.</exception>
    public static IReadOnlyList<NerSentence> Read(string path)
    {
        var sentences = new List<NerSentence>();
        string id = "", text = "";
        var words = new List<string>();
        var tags = new List<string>();
        int lineNumber = 0;

        void Flush()
        {
            if (words.Count > 0)
                sentences.Add(new NerSentence(id, text, words.ToArray(), tags.ToArray()));
            words.Clear();
            tags.Clear();
            id = text = "";
        }

        // Split on '\n' only: web text may hold other Unicode line separators inside a sentence.
        foreach (string raw in File.ReadAllText(path).Split('\n'))
        {
            lineNumber++;
            string line = raw.TrimEnd('\r');
            if (line.Length == 0)
            {
                Flush();
                continue;
            }

            if (line.StartsWith('#'))
            {
                if (line.StartsWith("# sent_id = ", StringComparison.Ordinal))
                    id = line["# sent_id = ".Length..];
                else if (line.StartsWith("# text = ", StringComparison.Ordinal))
                    text = line["# text = ".Length..];
                continue;
            }

            string[] columns = line.Split('\t');
            if (columns.Length < 3 || !int.TryParse(columns[0], out _))
                throw new InvalidDataException($"{path}:{lineNumber}: expected 'index<TAB>word<TAB>tag', found '{line}'.");
            words.Add(columns[1]);
            tags.Add(columns[2]);
        }

        Flush();
        return sentences;
    }
}
