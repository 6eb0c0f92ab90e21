namespace Transformer.MLNet.Examples.Data;

/// <summary>
/// Karpathy's tiny Shakespeare (<c>tiny-shakespeare/input.txt</c>, 1,115,394 characters), split as char-rnn and
/// nanoGPT split it: the first 90% of the characters for training, the last 10% for validation.
/// </summary>
public static class TinyShakespeare
{
    /// <summary>Folder of the data set under the data directory.</summary>
    public const string Folder = "tiny-shakespeare";

    /// <summary>File name of the data set.</summary>
    public const string FileName = "input.txt";

    /// <summary>Reads the text and splits it.</summary>
    /// <param name="path">The text file; by default found through <see cref="DataDirectory"/>.</param>
    /// <returns>The training and validation text.</returns>
    public static (string Train, string Validation) Load(string? path = null)
    {
        string text = File.ReadAllText(path ?? DataDirectory.Resolve(Folder, FileName));
        int cut = (int)(text.Length * 0.9);
        return (text[..cut], text[cut..]);
    }
}
