using Transformer.MLNet.Network.Runtime;

namespace Transformer.MLNet.Network.Tests.Runtime;

[TestClass]
public sealed class ElfVersionPatcherTests
{
    private static byte[] RealShim() => File.ReadAllBytes(TorchRuntime.FindShim()
        ?? throw new AssertFailedException("TorchSharp's libLibTorchSharp.so was not found"));

    [TestMethod]
    public void Reads_the_GLIBCXX_3_4_32_requirement_from_the_real_shim()
    {
        var requirements = ElfVersionPatcher.ReadRequirements(RealShim());
        var stdCxx = requirements.Where(r => r.Library == "libstdc++.so.6").ToList();
        Assert.IsGreaterThan(5, stdCxx.Count);
        Assert.IsTrue(stdCxx.Any(r => r.Version == "GLIBCXX_3.4.32" && !r.IsWeak));
        Assert.IsTrue(requirements.Any(r => r.Library == "libc.so.6" && r.Version.StartsWith("GLIBC_2.", StringComparison.Ordinal)));
    }

    [TestMethod]
    public void Marking_weak_changes_only_that_flag_and_every_other_byte_is_identical()
    {
        byte[] original = RealShim();
        byte[] patched = (byte[])original.Clone();

        Assert.IsTrue(ElfVersionPatcher.MarkWeak(patched, "libstdc++.so.6", "GLIBCXX_3.4.32"));

        var differing = Enumerable.Range(0, original.Length).Where(i => original[i] != patched[i]).ToList();
        var target = ElfVersionPatcher.ReadRequirements(original).Single(r => r.Version == "GLIBCXX_3.4.32");
        Assert.HasCount(1, differing, "exactly one byte differs");
        Assert.AreEqual(target.FlagsOffset, differing[0], "the byte is the low byte of vna_flags");
        Assert.AreEqual(original[differing[0]] | 0x2, patched[differing[0]]);

        var before = ElfVersionPatcher.ReadRequirements(original);
        var after = ElfVersionPatcher.ReadRequirements(patched);
        Assert.HasCount(before.Count, after);
        for (int i = 0; i < before.Count; i++)
        {
            bool isTarget = before[i].Version == "GLIBCXX_3.4.32";
            Assert.AreEqual(before[i].Library, after[i].Library);
            Assert.AreEqual(before[i].Version, after[i].Version);
            Assert.AreEqual(isTarget, after[i].IsWeak, before[i].Version);
        }
    }

    [TestMethod]
    public void Marking_twice_is_idempotent()
    {
        byte[] once = RealShim();
        ElfVersionPatcher.MarkWeak(once, "libstdc++.so.6", "GLIBCXX_3.4.32");
        byte[] twice = (byte[])once.Clone();

        Assert.IsFalse(ElfVersionPatcher.MarkWeak(twice, "libstdc++.so.6", "GLIBCXX_3.4.32"));
        CollectionAssert.AreEqual(once, twice);
    }

    [TestMethod]
    public void A_missing_requirement_or_a_non_ELF_file_is_a_clear_error()
    {
        byte[] shim = RealShim();
        var missing = Assert.ThrowsExactly<InvalidDataException>(() => ElfVersionPatcher.MarkWeak(shim, "libstdc++.so.6", "GLIBCXX_9.9.99"));
        StringAssert.Contains(missing.Message, "GLIBCXX_9.9.99");

        var notElf = Assert.ThrowsExactly<InvalidDataException>(() => ElfVersionPatcher.ReadRequirements(new byte[128]));
        StringAssert.Contains(notElf.Message, "ELF");

        byte[] truncated = shim[..4096];
        Assert.ThrowsExactly<InvalidDataException>(() => ElfVersionPatcher.ReadRequirements(truncated));
    }
}
