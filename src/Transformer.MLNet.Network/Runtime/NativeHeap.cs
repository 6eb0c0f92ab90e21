using System.Runtime.InteropServices;

namespace Transformer.MLNet.Network.Runtime;

/// <summary>
/// Hands freed native heap memory back to the operating system (glibc <c>malloc_trim</c>). libtorch frees a batch's
/// activations to glibc's heap, which raises its mmap threshold after large frees and then keeps the memory: over a
/// long stream of batches of varying shapes the resident size creeps up although nothing is live. Trimming after
/// a large piece of work keeps the resident size flat at the cost of a few milliseconds.
/// </summary>
internal static class NativeHeap
{
    private static bool s_unavailable = !OperatingSystem.IsLinux();

    /// <summary>Trims glibc's heaps; a no-op where there is no glibc (other systems, musl).</summary>
    public static void Trim()
    {
        if (s_unavailable)
            return;
        try
        {
            _ = MallocTrim(0);
        }
        catch (Exception e) when (e is EntryPointNotFoundException or DllNotFoundException)
        {
            s_unavailable = true;
        }
    }

    [DllImport("libc", EntryPoint = "malloc_trim")]
    private static extern int MallocTrim(nuint pad);
}
