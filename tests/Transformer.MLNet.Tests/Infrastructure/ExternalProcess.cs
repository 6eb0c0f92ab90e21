using System.Diagnostics;
using Transformer.MLNet.Examples.Data;

namespace Transformer.MLNet.Tests.Infrastructure;

/// <summary>Runs a command line (dotnet, npm, a tool) from a test, with a time limit and its output kept for the message.</summary>
internal static class ExternalProcess
{
    /// <summary>The repository root; fails the test when not run from a clone.</summary>
    public static string RepositoryRoot =>
        DataDirectory.RepositoryRoot ?? throw new InvalidOperationException("Repository root (the folder with Transformer.MLNet.sln) not found.");

    /// <summary>Runs <paramref name="file"/> and waits; kills the whole process tree at the time limit.</summary>
    /// <param name="check">Fail the test on a non-zero exit code.</param>
    /// <returns>The exit code and the standard output followed by the standard error.</returns>
    public static (int ExitCode, string Log) Run(string file, string arguments, string workingDirectory, TimeSpan timeout, bool check = true)
    {
        var start = new ProcessStartInfo(file, arguments)
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(timeout))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"'{file} {arguments}' did not finish within {timeout}.");
        }

        string log = stdout.Result + stderr.Result;
        if (check && process.ExitCode != 0)
            Assert.Fail($"'{file} {arguments}' exited with {process.ExitCode}:\n{log}");
        return (process.ExitCode, log);
    }
}
