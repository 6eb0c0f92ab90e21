using System.Runtime.InteropServices;

namespace Transformer.MLNet.Network.Runtime;

/// <summary>
/// How libtorch's CPU tensors, which come from glibc's <c>malloc</c>, get their memory from the operating system.
/// </summary>
/// <remarks>
/// <para>glibc serves every block above its mmap threshold with a fresh <c>mmap</c> and returns it with
/// <c>munmap</c> when freed. The threshold adapts upwards as large blocks are freed, but never above 32 MB on 64-bit
/// systems. A training step whose logits are (batch × length × vocabulary) floats — 64 × 20 × 20,000 × 4 bytes is
/// 100 MB — allocates several such blocks for the forward and backward passes; each is mapped, zero-filled by the
/// kernel one 4 KB page fault at a time, and unmapped again, every step. That kernel work, not arithmetic, then
/// takes a large share of a training run's CPU time, and it grows with the vocabulary and the sequence lengths.</para>
/// <para><see cref="RetainFreedMemory"/> keeps such blocks in the heap so the next step reuses pages that are already
/// mapped; <see cref="Trim"/> hands what is free back to the system when a large piece of work ends.</para>
/// </remarks>
internal static class NativeHeap
{
    // mallopt parameters, from glibc's malloc.h.
    private const int TrimThresholdOption = -1;
    private const int TopPadOption = -2;
    private const int MmapMaxOption = -4;

    // A thread other than the main one allocates from its own arena, made of 64 MB heaps; glibc unmaps such a heap as
    // soon as it is entirely free, unless the top padding it keeps is at least a heap's size.
    private const int ArenaHeapBytes = 64 << 20;

    private static bool s_unavailable = !OperatingSystem.IsLinux();
    private static int s_retaining;

    /// <summary>Whether <see cref="RetainFreedMemory"/> has changed the allocator's settings in this process.</summary>
    public static bool IsRetainingFreedMemory => Volatile.Read(ref s_retaining) == 1;

    /// <summary>
    /// From now on in this process, serves large blocks from glibc's heaps instead of fresh mappings, and stops trimming
    /// or unmapping heaps after frees (explicit <see cref="Trim"/> calls still return free memory). Done once; a no-op without
    /// glibc, and when the user set either of glibc's <c>MALLOC_MMAP_MAX_</c> or <c>MALLOC_TRIM_THRESHOLD_</c>
    /// environment variables (their choice wins).
    /// </summary>
    /// <returns>True when the settings are in effect after the call.</returns>
    public static bool RetainFreedMemory()
    {
        if (s_unavailable || IsRetainingFreedMemory)
            return IsRetainingFreedMemory;
        if (Environment.GetEnvironmentVariable("MALLOC_MMAP_MAX_") is not null || Environment.GetEnvironmentVariable("MALLOC_TRIM_THRESHOLD_") is not null)
            return false;
        try
        {
            // No mmap-served blocks (the mmap threshold cannot be raised past 32 MB), no trimming below 2 GB of free
            // top, and no unmapping of free heaps: a training step frees and reallocates hundreds of MB, and giving
            // them back each time is what costs. Blocks that a thread's arena cannot hold are still mapped: above a
            // heap's size, which callers avoid by working in smaller blocks.
            if (Mallopt(MmapMaxOption, 0) == 1 && Mallopt(TrimThresholdOption, int.MaxValue) == 1 && Mallopt(TopPadOption, ArenaHeapBytes) == 1)
                Volatile.Write(ref s_retaining, 1);
        }
        catch (Exception e) when (e is EntryPointNotFoundException or DllNotFoundException)
        {
            s_unavailable = true;
        }

        return IsRetainingFreedMemory;
    }

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

    /// <summary>Bytes that glibc currently serves from separate mappings (<c>mallinfo2().hblkhd</c>); -1 without glibc.</summary>
    public static long MappedBlockBytes()
    {
        if (s_unavailable)
            return -1;
        try
        {
            return (long)MallInfo2().MappedBytes;
        }
        catch (Exception e) when (e is EntryPointNotFoundException or DllNotFoundException)
        {
            return -1;
        }
    }

    [DllImport("libc", EntryPoint = "malloc_trim")]
    private static extern int MallocTrim(nuint pad);

    [DllImport("libc", EntryPoint = "mallopt")]
    private static extern int Mallopt(int parameter, int value);

    [DllImport("libc", EntryPoint = "mallinfo2")]
    private static extern MallocInfo MallInfo2();

    /// <summary>glibc's <c>struct mallinfo2</c> (glibc 2.33+): ten <c>size_t</c> fields.</summary>
    [StructLayout(LayoutKind.Sequential)]
    private readonly struct MallocInfo
    {
        public readonly nuint Arena;
        public readonly nuint FreeChunks;
        public readonly nuint FastBins;
        public readonly nuint MappedChunks;
        public readonly nuint MappedBytes;
        public readonly nuint MaxTotalAllocated;
        public readonly nuint FastBinFreeBytes;
        public readonly nuint AllocatedBytes;
        public readonly nuint FreeBytes;
        public readonly nuint TopReleasable;
    }
}
