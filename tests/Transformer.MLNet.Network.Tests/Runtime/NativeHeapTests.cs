using System.Globalization;
using Transformer.MLNet.Network.Runtime;
using Transformer.MLNet.Network.Training;
using static TorchSharp.torch;

namespace Transformer.MLNet.Network.Tests.Runtime;

[TestClass]
public sealed class NativeHeapTests
{
    // Eight 16 MB blocks, like the blocked logits and gradients of one translation step.
    private const int Blocks = 8;
    private const long BlockFloats = 4L << 20;
    private const long StepPages = Blocks * BlockFloats * sizeof(float) / 4096;

    [TestMethod]
    public void During_training_a_steps_freed_blocks_are_reused_without_new_page_faults()
    {
        if (!OperatingSystem.IsLinux())
            Assert.Inconclusive("glibc's allocator settings exist only on Linux.");
        if (Environment.GetEnvironmentVariable("MALLOC_MMAP_MAX_") is not null || Environment.GetEnvironmentVariable("MALLOC_TRIM_THRESHOLD_") is not null)
            Assert.Inconclusive("glibc's MALLOC_ environment variables are set, and they take precedence.");

        using var model = nn.Linear(2, 1);
        using var updater = new ParameterUpdater(model, new TrainingOptions());
        Assert.IsTrue(NativeHeap.IsRetainingFreedMemory, "creating a ParameterUpdater should switch glibc to keeping freed blocks");

        long mappedBefore = NativeHeap.MappedBlockBytes();
        Step();
        Assert.IsLessThan(BlockFloats * sizeof(float), NativeHeap.MappedBlockBytes() - mappedBefore, "the blocks should come from the heap, not from mappings of their own");

        // The first steps map pages (libtorch's 64-byte-aligned blocks fragment the heap until it has grown enough);
        // from then on a step should find its blocks in the heap, already mapped.
        for (int i = 0; i < 5; i++)
            Step();
        long faultsBefore = MinorFaults();
        for (int i = 0; i < 3; i++)
            Step();
        long faults = MinorFaults() - faultsBefore;
        // Fresh mappings fault on every page (3 × StepPages); reuse leaves a few blocks' worth where the heap's layout shifts.
        Assert.IsLessThan(3 * StepPages / 2, faults,
            $"3 steps of {StepPages} pages each caused {faults} page faults; mapping them afresh each step would cause about {3 * StepPages}");
    }

    [TestMethod]
    public void Disposing_the_updater_hands_free_heap_memory_back()
    {
        if (!OperatingSystem.IsLinux())
            Assert.Inconclusive("/proc/self/status exists only on Linux.");
        using var model = nn.Linear(2, 1);
        var updater = new ParameterUpdater(model, new TrainingOptions());
        Step();
        double heldMb = ResidentMb();
        updater.Dispose();
        double afterMb = ResidentMb();
        Assert.IsGreaterThan(StepPages * 4096 / 2 / 1048576.0, heldMb - afterMb,
            $"disposing the updater should hand the step's freed blocks back: resident {heldMb:F0} MB before, {afterMb:F0} MB after");
    }

    /// <summary>Allocates and fills a step's blocks, then frees them all.</summary>
    private static void Step()
    {
        var blocks = Enumerable.Range(0, Blocks).Select(_ => ones(BlockFloats)).ToList();
        Assert.AreEqual(1f, blocks[^1][BlockFloats - 1].item<float>());
        foreach (var block in blocks)
            block.Dispose();
    }

    /// <summary>Minor page faults of this process so far (field 10 of /proc/self/stat).</summary>
    private static long MinorFaults()
    {
        string stat = File.ReadAllText("/proc/self/stat");
        string[] fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return long.Parse(fields[10 - 3], CultureInfo.InvariantCulture);
    }

    private static double ResidentMb()
    {
        string line = File.ReadLines("/proc/self/status").First(l => l.StartsWith("VmRSS:", StringComparison.Ordinal));
        return long.Parse(line["VmRSS:".Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture) / 1024.0;
    }
}
