namespace Transformer.MLNet.Network.Data;

/// <summary>
/// Locates the project's real data sets: the folder named by <c>TRANSFORMER_MLNET_DATA</c> if set, else
/// <c>../shared/data</c> relative to the repository root (the folder holding <c>Transformer.MLNet.sln</c>).
/// </summary>
public static class DataDirectory
{
    /// <summary>Environment variable that points at the data folder.</summary>
    public const string Variable = "TRANSFORMER_MLNET_DATA";

    private const string SolutionFile = "Transformer.MLNet.sln";

    /// <summary>The data folder, whether or not it exists.</summary>
    public static string Root =>
        Environment.GetEnvironmentVariable(Variable) is { Length: > 0 } configured
            ? Path.GetFullPath(configured)
            : DefaultRoot() ?? Path.GetFullPath(Path.Combine("..", "shared", "data"));

    /// <summary>The full path of a file or folder under the data folder; throws a clear error if it is missing.</summary>
    /// <param name="parts">Path segments below the data folder, e.g. <c>"stsbenchmark", "sts-test.csv"</c>.</param>
    /// <exception cref="FileNotFoundException">The path does not exist.</exception>
    public static string Resolve(params string[] parts)
    {
        string path = Path.Combine([Root, .. parts]);
        if (File.Exists(path) || Directory.Exists(path))
            return path;

        string configured = Environment.GetEnvironmentVariable(Variable) is { Length: > 0 } v ? $"'{v}'" : "not set";
        throw new FileNotFoundException(
            $"Data not found: {path}. Set {Variable} to the folder holding the data sets (now {configured}), " +
            $"or place them in ../shared/data beside the repository (looked in {DefaultRoot() ?? "(repository root not found)"}).",
            path);
    }

    private static string? DefaultRoot()
    {
        foreach (string start in new[] { AppContext.BaseDirectory, Directory.GetCurrentDirectory() })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                if (File.Exists(Path.Combine(dir.FullName, SolutionFile)))
                    return Path.GetFullPath(Path.Combine(dir.FullName, "..", "shared", "data"));
            }
        }

        return null;
    }
}
