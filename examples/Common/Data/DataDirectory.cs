namespace Transformer.MLNet.Examples.Data;

/// <summary>
/// Locates the data sets the examples, tests and benchmarks use: the folder named by <c>TRANSFORMER_MLNET_DATA</c> if
/// set, else <c>data/</c> in the repository (the folder holding <c>Transformer.MLNet.sln</c>, searched upwards from the
/// application and from the working directory). Part of the examples, not of the libraries.
/// </summary>
public static class DataDirectory
{
    /// <summary>Environment variable that points at the data folder.</summary>
    public const string Variable = "TRANSFORMER_MLNET_DATA";

    private const string SolutionFile = "Transformer.MLNet.sln";
    private const string FolderName = "data";

    /// <summary>The data folder, whether or not it exists.</summary>
    public static string Root =>
        Environment.GetEnvironmentVariable(Variable) is { Length: > 0 } configured
            ? Path.GetFullPath(configured)
            : RepositoryData() ?? Path.GetFullPath(FolderName);

    /// <summary>The full path of a file or folder under the data folder; throws a clear error if it is missing.</summary>
    /// <param name="parts">Path segments below the data folder, e.g. <c>"stsbenchmark", "sts-test.csv"</c>.</param>
    /// <exception cref="FileNotFoundException">The path does not exist.</exception>
    public static string Resolve(params string[] parts)
    {
        string path = Path.Combine([Root, .. parts]);
        if (File.Exists(path) || Directory.Exists(path))
            return path;

        string where = Environment.GetEnvironmentVariable(Variable) is { Length: > 0 } v
            ? $"{Variable} is set to '{v}'; point it at a folder holding '{Path.Combine(parts)}', or unset it to use the repository's data/ folder"
            : RepositoryData() is null
                ? $"no {SolutionFile} was found above the application or the working directory; run from a clone of the repository, or set {Variable} to a folder holding the data sets"
                : $"the repository's data/ folder lacks it; restore it with 'git checkout -- data', or set {Variable} to a folder holding the data sets";
        throw new FileNotFoundException($"Data not found: {path} ({where}).", path);
    }

    /// <summary>The repository's root folder (the one holding <c>Transformer.MLNet.sln</c>), or null when not run from a clone.</summary>
    public static string? RepositoryRoot
    {
        get
        {
            foreach (string start in new[] { AppContext.BaseDirectory, Directory.GetCurrentDirectory() })
            {
                for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
                {
                    if (File.Exists(Path.Combine(dir.FullName, SolutionFile)))
                        return dir.FullName;
                }
            }

            return null;
        }
    }

    private static string? RepositoryData() => RepositoryRoot is { } root ? Path.Combine(root, FolderName) : null;
}
