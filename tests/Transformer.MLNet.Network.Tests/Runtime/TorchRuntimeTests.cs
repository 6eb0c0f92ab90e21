using TorchSharp;
using Transformer.MLNet.Network.Runtime;
using static TorchSharp.torch;

namespace Transformer.MLNet.Network.Tests.Runtime;

[TestClass]
public sealed class TorchRuntimeTests
{
    [TestMethod]
    public void Torch_runs_matmul_and_backward_after_a_fresh_build()
    {
        var status = TorchRuntime.EnsureLoaded();
        Assert.IsNotNull(status.Detail);

        using var scope = NewDisposeScope();
        var a = tensor(new float[] { 1, 2, 3, 4 }, [2, 2], requires_grad: true);
        var b = tensor(new float[] { 5, 6, 7, 8 }, [2, 2]);
        var product = a.matmul(b);
        CollectionAssert.AreEqual(new float[] { 19, 22, 43, 50 }, product.data<float>().ToArray());

        product.sum().backward();
        // d(sum(A·B))/dA[i,k] = sum_j B[k,j]
        CollectionAssert.AreEqual(new float[] { 11, 15, 11, 15 }, a.grad!.data<float>().ToArray());
    }

    [TestMethod]
    public void OpenMP_threads_wait_passively_unless_the_user_chose_a_wait_policy()
    {
        TorchRuntime.EnsureLoaded();
        torch.ones(1).Dispose();
        // What the process started with (Linux: the initial environment stays in /proc/self/environ).
        string? initial = null;
        if (OperatingSystem.IsLinux())
        {
            initial = File.ReadAllText("/proc/self/environ").Split('\0')
                .Where(entry => entry.StartsWith(OpenMpWaitPolicy.Variable + "=", StringComparison.Ordinal))
                .Select(entry => entry[(OpenMpWaitPolicy.Variable.Length + 1)..]).FirstOrDefault();
        }

        string? native = OpenMpWaitPolicy.NativeValue(OpenMpWaitPolicy.Variable);
        Assert.AreEqual(Environment.GetEnvironmentVariable(OpenMpWaitPolicy.Variable), native, "the C library sees what .NET sees");
        if (OperatingSystem.IsLinux())
            Assert.AreEqual(initial ?? OpenMpWaitPolicy.Passive, native, "PASSIVE where unset; the user's value otherwise");
        Assert.AreEqual(native, OpenMpWaitPolicy.Apply(), "applying again changes nothing");
    }

    [TestMethod]
    public void EnsureLoaded_is_idempotent_and_safe_from_many_threads()
    {
        var statuses = new TorchRuntimeStatus[16];
        Parallel.For(0, statuses.Length, i => statuses[i] = TorchRuntime.EnsureLoaded());
        Assert.IsTrue(statuses.All(s => ReferenceEquals(s, statuses[0])));
    }

    [TestMethod]
    public void On_a_system_without_GLIBCXX_3_4_32_the_patched_copy_is_what_the_process_loaded()
    {
        string? stdCxx = TorchRuntime.LoadedLibraryPath(TorchRuntime.StdCxxLibrary);
        Assert.IsNotNull(stdCxx, "libstdc++ should be mapped once torch has run");
        torch.ones(1).Dispose();
        var status = TorchRuntime.EnsureLoaded();
        string? loadedShim = TorchRuntime.LoadedLibraryPath(TorchRuntime.ShimFileName);

        if (TorchRuntime.ProvidesVersion(stdCxx, TorchRuntime.UnboundVersion))
        {
            Assert.AreNotEqual(TorchRuntimeAction.LoadedPatchedCopy, status.Action, "nothing should be patched where libstdc++ is new enough");
            return;
        }

        // With TRANSFORMER_MLNET_LIBTORCH set (the GPU-host script), libtorch comes from that folder, the shim still patched.
        Assert.Contains(status.Action, new[] { TorchRuntimeAction.LoadedPatchedCopy, TorchRuntimeAction.LoadedFromLibTorchFolder }, status.Detail);
        Assert.AreEqual(status.PatchedShimPath, loadedShim);
        Assert.IsFalse(status.PatchedShimPath!.Contains(".nuget", StringComparison.Ordinal), "the NuGet cache must never be used for the copy");
        var requirement = ElfVersionPatcher.ReadRequirements(File.ReadAllBytes(loadedShim!))
            .Single(r => r.Version == TorchRuntime.UnboundVersion);
        Assert.IsTrue(requirement.IsWeak);
    }

    [TestMethod]
    public void A_libtorch_folder_without_libtorch_is_a_clear_error_naming_the_variable()
    {
        string empty = Directory.CreateTempSubdirectory("no-libtorch-").FullName;
        try
        {
            var error = Assert.ThrowsExactly<InvalidOperationException>(() => TorchRuntime.LoadFromLibTorchFolder(empty, null));
            Assert.Contains(TorchRuntime.LibTorchVariable, error.Message);
            Assert.Contains("libtorch.so", error.Message);
        }
        finally
        {
            Directory.Delete(empty, recursive: true);
        }
    }

    [TestMethod]
    public void Loading_from_the_package_libtorch_folder_binds_the_same_shim_and_torch_still_computes()
    {
        torch.ones(1).Dispose();
        string libTorchCpu = TorchRuntime.LoadedLibraryPath("libtorch_cpu.so")!;
        string? stdCxx = TorchRuntime.LoadedLibraryPath(TorchRuntime.StdCxxLibrary);

        var status = TorchRuntime.LoadFromLibTorchFolder(Path.GetDirectoryName(libTorchCpu)!, stdCxx);

        Assert.AreEqual(TorchRuntimeAction.LoadedFromLibTorchFolder, status.Action);
        // The shim it chose (patched or not, as this libstdc++ requires) is the one the process runs.
        Assert.AreEqual(TorchRuntime.LoadedLibraryPath(TorchRuntime.ShimFileName), status.PatchedShimPath ?? status.OriginalShimPath);
        using var scope = NewDisposeScope();
        var product = torch.tensor(new float[] { 1, 2, 3, 4 }, [2, 2]).matmul(torch.eye(2));
        CollectionAssert.AreEqual(new float[] { 1, 2, 3, 4 }, product.data<float>().ToArray());
    }

    [TestMethod]
    public void The_original_shim_is_left_untouched()
    {
        string shim = TorchRuntime.FindShim()!;
        var requirement = ElfVersionPatcher.ReadRequirements(File.ReadAllBytes(shim))
            .Single(r => r.Library == TorchRuntime.StdCxxLibrary && r.Version == TorchRuntime.UnboundVersion);
        Assert.IsFalse(requirement.IsWeak, $"{shim} must not be modified");
    }

    [TestMethod]
    public void Concurrent_preparation_of_the_patched_copy_yields_one_verified_file()
    {
        byte[] original = File.ReadAllBytes(TorchRuntime.FindShim()!);
        string cache = Path.Combine(Path.GetTempPath(), "tmlnet-test-" + Guid.NewGuid().ToString("N"));
        try
        {
            var paths = new string[8];
            Parallel.For(0, paths.Length, i => paths[i] = TorchRuntime.PreparePatchedCopy(original, cache));
            Assert.AreEqual(1, paths.Distinct().Count());

            byte[] expected = (byte[])original.Clone();
            ElfVersionPatcher.MarkWeak(expected, TorchRuntime.StdCxxLibrary, TorchRuntime.UnboundVersion);
            CollectionAssert.AreEqual(expected, File.ReadAllBytes(paths[0]));
            Assert.HasCount(1, Directory.GetFiles(Path.GetDirectoryName(paths[0])!), "no temporary files left behind");

            // A tampered copy is replaced, not trusted.
            File.WriteAllBytes(paths[0], original);
            Assert.AreEqual(paths[0], TorchRuntime.PreparePatchedCopy(original, cache));
            CollectionAssert.AreEqual(expected, File.ReadAllBytes(paths[0]));
        }
        finally
        {
            Directory.Delete(cache, recursive: true);
        }
    }
}
