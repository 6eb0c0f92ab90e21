using System.Diagnostics;
using System.Globalization;

namespace Transformer.MLNet.Examples.Common;

/// <summary>
/// This process's CPU time in user and kernel mode and its minor page faults at one moment. Wall-clock time depends
/// on what else the machine runs; these, with the updates done, are what make two runs comparable.
/// </summary>
/// <param name="User">CPU time in user mode, all threads.</param>
/// <param name="System">CPU time in the kernel on the process's behalf (page faults, mapping memory, waking threads).</param>
/// <param name="MinorFaults">Page faults served without I/O, mostly fresh memory being zero-filled; -1 where unknown.</param>
public readonly record struct ProcessCpu(TimeSpan User, TimeSpan System, long MinorFaults)
{
    /// <summary>The figures now.</summary>
    public static ProcessCpu Now()
    {
        using var process = Process.GetCurrentProcess();
        return new ProcessCpu(process.UserProcessorTime, process.PrivilegedProcessorTime, ReadMinorFaults());
    }

    /// <summary>What was spent between <paramref name="start"/> and <paramref name="end"/>.</summary>
    public static ProcessCpu operator -(ProcessCpu end, ProcessCpu start) =>
        new(end.User - start.User, end.System - start.System,
            end.MinorFaults < 0 || start.MinorFaults < 0 ? -1 : end.MinorFaults - start.MinorFaults);

    /// <summary>Kernel time as a share of all CPU time, in percent.</summary>
    public double SystemPercent => 100 * System.TotalSeconds / Math.Max(1e-9, (User + System).TotalSeconds);

    /// <summary>A sentence for a training phase: updates, updates per minute of wall-clock time, CPU time and faults.</summary>
    public string Describe(long updates, TimeSpan elapsed)
    {
        string faults = MinorFaults >= 0 ? string.Create(CultureInfo.InvariantCulture, $", {MinorFaults / (double)Math.Max(1, updates):F0} page faults per update") : "";
        return string.Create(CultureInfo.InvariantCulture,
            $"{updates:N0} updates ({updates / Math.Max(1e-9, elapsed.TotalMinutes):F1}/min), CPU {User.TotalSeconds:F0} s user + {System.TotalSeconds:F0} s system " +
            $"({SystemPercent:F1}% system, {(User + System).TotalMilliseconds / Math.Max(1, updates):F0} ms per update){faults}");
    }

    /// <summary>
    /// key=value pairs for an example's summary line: updates, updates_per_min (of training wall-clock time),
    /// cpu_user_s and cpu_sys_s (the whole process so far).
    /// </summary>
    public static string SummaryPairs(long updates, TimeSpan training)
    {
        var process = Now();
        return string.Create(CultureInfo.InvariantCulture,
            $"updates={updates} updates_per_min={updates / Math.Max(1e-9, training.TotalMinutes):F1} cpu_user_s={process.User.TotalSeconds:F0} cpu_sys_s={process.System.TotalSeconds:F0}");
    }

    /// <summary>Field 10 of /proc/self/stat (Linux); -1 elsewhere.</summary>
    private static long ReadMinorFaults()
    {
        try
        {
            string stat = File.ReadAllText("/proc/self/stat");
            string[] fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            return long.Parse(fields[10 - 3], CultureInfo.InvariantCulture);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException)
        {
            return -1;
        }
    }
}
