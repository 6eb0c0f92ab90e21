namespace Transformer.MLNet.Network.IO;

/// <summary>
/// Writes model files so that the final name only ever holds a complete file: the content goes to a temporary file
/// in the same folder, is flushed to disk, then renamed over the target (a rename within one volume is atomic). A crash,
/// a full disk or an exception mid-write leaves the previous file, if any, untouched.
/// </summary>
public static class AtomicFile
{
    /// <summary>Writes <paramref name="path"/> through <paramref name="write"/>, replacing any existing file only on success.</summary>
    /// <param name="path">The final file.</param>
    /// <param name="write">Writes the whole content into the stream it is given (seekable; do not dispose it).</param>
    public static void Write(string path, Action<Stream> write)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(write);
        string full = Path.GetFullPath(path);
        // Checked first, so that the error names the user's path and not the temporary file's.
        if (Directory.Exists(full))
            throw new IOException($"'{path}' is a folder; give the path of a file to write.");
        string? folder = Path.GetDirectoryName(full);
        if (folder is not null && !Directory.Exists(folder))
            throw new DirectoryNotFoundException($"Cannot write '{path}': its folder '{folder}' does not exist; create it first.");
        // Same folder as the target: a rename across volumes would be a copy, which is not atomic.
        string temporary = $"{full}.{Guid.NewGuid():N}.tmp";
        try
        {
            using (var file = new FileStream(temporary, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None))
            {
                write(file);
                // Without this the rename can reach the disk before the data, and a power cut leaves an empty file.
                file.Flush(flushToDisk: true);
            }

            File.Move(temporary, full, overwrite: true);
        }
        catch
        {
            TryDelete(temporary);
            throw;
        }
    }

    /// <summary>Writes <paramref name="bytes"/> to <paramref name="path"/> atomically.</summary>
    public static void WriteAllBytes(string path, byte[] bytes) => Write(path, stream => stream.Write(bytes));

    /// <summary>Writes <paramref name="text"/> (UTF-8, no byte-order mark) to <paramref name="path"/> atomically.</summary>
    public static void WriteAllText(string path, string text) =>
        WriteAllBytes(path, new System.Text.UTF8Encoding(false).GetBytes(text));

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (IOException)
        {
            // The write already failed; that error matters more than a leftover temporary file.
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
