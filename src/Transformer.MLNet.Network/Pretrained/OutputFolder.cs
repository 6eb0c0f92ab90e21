namespace Transformer.MLNet.Network.Pretrained;

/// <summary>Creates the folder a model or an export is written to, with an error that names it when it cannot be.</summary>
internal static class OutputFolder
{
    /// <summary>Creates <paramref name="folder"/> if missing.</summary>
    /// <exception cref="IOException"><paramref name="folder"/> is a file, or cannot be created (the message says which and why).</exception>
    public static void Create(string folder)
    {
        if (File.Exists(folder))
            throw new IOException($"'{folder}' is a file, not a folder: give a folder path (it is created if missing).");
        try
        {
            Directory.CreateDirectory(folder);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or NotSupportedException)
        {
            throw new IOException($"The folder '{folder}' cannot be created ({e.Message}); give a writable folder path.", e);
        }
    }
}
