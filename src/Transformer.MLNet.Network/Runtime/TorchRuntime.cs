using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using TorchSharp;

namespace Transformer.MLNet.Network.Runtime;

/// <summary>What <see cref="TorchRuntime.EnsureLoaded"/> did to make TorchSharp's native library loadable.</summary>
public enum TorchRuntimeAction
{
    /// <summary>Nothing was needed: not Linux x64, or the system libstdc++ provides every version the shim needs.</summary>
    NotNeeded,

    /// <summary>TorchSharp's native shim was already in the process when we looked.</summary>
    AlreadyLoaded,

    /// <summary>A patched copy of the shim (one version requirement marked weak) was loaded.</summary>
    LoadedPatchedCopy,

    /// <summary>libtorch was loaded from the folder named by <see cref="TorchRuntime.LibTorchVariable"/>, then the shim.</summary>
    LoadedFromLibTorchFolder,
}

/// <summary>The outcome of <see cref="TorchRuntime.EnsureLoaded"/>.</summary>
/// <param name="Action">What was done.</param>
/// <param name="Detail">A sentence for logs.</param>
/// <param name="OriginalShimPath">The shim that TorchSharp ships, where one was located.</param>
/// <param name="PatchedShimPath">The patched copy that was loaded, for <see cref="TorchRuntimeAction.LoadedPatchedCopy"/>.</param>
public sealed record TorchRuntimeStatus(
    TorchRuntimeAction Action, string Detail, string? OriginalShimPath = null, string? PatchedShimPath = null);

/// <summary>
/// Makes TorchSharp's native backend load on Linux distributions whose libstdc++ predates GCC 13
/// (Debian 12, Ubuntu 22.04), with no manual step.
/// </summary>
/// <remarks>
/// <para>TorchSharp 0.107's shim <c>libLibTorchSharp.so</c> was linked by GCC 13 and carries a requirement of
/// <c>GLIBCXX_3.4.32</c> on <c>libstdc++.so.6</c>. Only one symbol has that version
/// (<c>_ZSt21ios_base_library_initv</c>), and the shim has no relocation against it, so nothing ever binds it:
/// only the load-time version check fails. Marking that single requirement weak lets glibc load the library.</para>
/// <para>The edit is made on a copy (never the NuGet cache nor the build output), named by the hash of the
/// original, written atomically, and verified byte-for-byte before use, so concurrent first use in several
/// processes is safe. libtorch's own libraries are loaded first from beside the original, and then the copy;
/// TorchSharp's loader finds the shim already in the process and uses it.</para>
/// <para>This runs automatically when this assembly is first used (module initializer). Call
/// <see cref="EnsureLoaded"/> yourself before touching <c>TorchSharp.torch</c> directly when that can happen
/// before any use of this library (e.g. the first cell of a notebook).</para>
/// <para>It also sets <c>OMP_WAIT_POLICY=PASSIVE</c> where the variable is not set, before libtorch loads, so that its
/// worker threads sleep instead of spinning when another process shares the cores (see docs/performance.md).</para>
/// </remarks>
public static class TorchRuntime
{
    /// <summary>Environment variable naming the folder for the patched shim (default: the user's local app data).</summary>
    public const string NativeCacheVariable = "TRANSFORMER_MLNET_NATIVE_CACHE";

    /// <summary>
    /// Environment variable naming a folder of libtorch libraries (e.g. a CUDA-enabled PyTorch's <c>torch/lib</c>) to
    /// load instead of the TorchSharp package's; TorchSharp's shim then binds to them.
    /// </summary>
    public const string LibTorchVariable = "TRANSFORMER_MLNET_LIBTORCH";

    internal const string ShimFileName = "libLibTorchSharp.so";
    internal const string StdCxxLibrary = "libstdc++.so.6";
    internal const string UnboundVersion = "GLIBCXX_3.4.32";

    private static readonly string[] s_libTorchDependencies = ["libc10.so", "libtorch_cpu.so", "libtorch.so"];
    private static readonly Lazy<TorchRuntimeStatus> s_status = new(Initialize, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>
    /// Ensures TorchSharp's native backend can load in this process. Idempotent and thread-safe.
    /// </summary>
    /// <returns>What was done.</returns>
    /// <exception cref="InvalidOperationException">The fix was needed and could not be applied; the message says why.</exception>
    public static TorchRuntimeStatus EnsureLoaded() => s_status.Value;

    [ModuleInitializer]
    [System.Diagnostics.CodeAnalysis.SuppressMessage("Usage", "CA2255", Justification = "Must run before TorchSharp's own loader.")]
    internal static void OnModuleInitialized()
    {
        try
        {
            _ = s_status.Value;
        }
        catch (InvalidOperationException)
        {
            // Reported with its explanation by the next EnsureLoaded call; a module initializer must not throw.
        }
    }

    private static TorchRuntimeStatus Initialize()
    {
        // Before anything loads libtorch and its OpenMP runtime, which reads the variable once.
        OpenMpWaitPolicy.Apply();
        if (!OperatingSystem.IsLinux() || RuntimeInformation.ProcessArchitecture != Architecture.X64)
            return new(TorchRuntimeAction.NotNeeded, "Not Linux x64: TorchSharp's shim loads as shipped.");

        if (LoadedLibraryPath(ShimFileName) is { } loaded)
            return new(TorchRuntimeAction.AlreadyLoaded, $"TorchSharp's shim was already loaded from {loaded}.", loaded);

        string? stdCxx = LoadedLibraryPath(StdCxxLibrary) ?? FindSystemStdCxx();
        if (Environment.GetEnvironmentVariable(LibTorchVariable) is { Length: > 0 } libTorchFolder)
            return LoadFromLibTorchFolder(libTorchFolder, stdCxx);

        if (stdCxx is not null && ProvidesVersion(stdCxx, UnboundVersion))
            return new(TorchRuntimeAction.NotNeeded, $"{stdCxx} provides {UnboundVersion}: the shim loads as shipped.");

        string shim = FindShim() ?? throw Failure(
            $"could not find {ShimFileName} beside TorchSharp.dll, in the application's runtimes/linux-x64/native " +
            "folder, nor in the NuGet packages folder. Reference the TorchSharp-cpu package from the application.");

        byte[] original = File.ReadAllBytes(shim);
        var requirements = ElfVersionPatcher.ReadRequirements(original);
        if (!requirements.Any(r => r.Library == StdCxxLibrary && r.Version == UnboundVersion && !r.IsWeak))
            return new(TorchRuntimeAction.NotNeeded, $"{shim} does not require {UnboundVersion}.", shim);

        if (stdCxx is not null)
        {
            var otherMissing = requirements
                .Where(r => r.Library == StdCxxLibrary && r.Version != UnboundVersion && !ProvidesVersion(stdCxx, r.Version))
                .Select(r => r.Version).ToList();
            if (otherMissing.Count > 0)
                throw Failure($"{stdCxx} also lacks {string.Join(", ", otherMissing)}, which the shim really uses; " +
                    "only the unused GLIBCXX_3.4.32 requirement can be relaxed safely. Install a newer libstdc++ (GCC 13+).");
        }

        string libTorchDir = FindLibTorchDirectory(Path.GetDirectoryName(shim)!) ?? throw Failure(
            $"found {shim} but not libtorch's libraries ({string.Join(", ", s_libTorchDependencies)}).");

        string patched;
        try
        {
            patched = PreparePatchedCopy(original, CacheDirectory());
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw Failure($"could not write the patched copy ({e.Message}). Point {NativeCacheVariable} at a writable folder.", e);
        }

        try
        {
            foreach (string dependency in s_libTorchDependencies)
                NativeLibrary.Load(Path.Combine(libTorchDir, dependency));
            NativeLibrary.Load(patched);
        }
        catch (DllNotFoundException e)
        {
            throw Failure($"loading the patched copy {patched} failed: {e.Message}", e);
        }

        return new(TorchRuntimeAction.LoadedPatchedCopy,
            $"Loaded {patched}: a copy of {shim} whose {UnboundVersion} requirement is weak ({stdCxx ?? StdCxxLibrary} lacks it).",
            shim, patched);
    }

    /// <summary>
    /// Loads libtorch's libraries from <paramref name="folder"/> (CUDA ones too when present), then TorchSharp's shim
    /// (the patched copy when this libstdc++ lacks <see cref="UnboundVersion"/>), so that the shim binds to them.
    /// </summary>
    /// <exception cref="InvalidOperationException">The folder lacks libtorch, or a library does not load (for the
    /// shim: usually a libtorch version its ABI does not match); the message names the file and the loader's error.</exception>
    internal static TorchRuntimeStatus LoadFromLibTorchFolder(string folder, string? stdCxx)
    {
        string[] missing = s_libTorchDependencies.Where(f => !File.Exists(Path.Combine(folder, f))).ToArray();
        if (missing.Length > 0)
            throw new InvalidOperationException(
                $"{LibTorchVariable} = '{folder}' lacks {string.Join(", ", missing)}. Point it at the lib folder of a " +
                "libtorch or PyTorch install (python3 -c 'import torch,os;print(os.path.dirname(torch.__file__))' + /lib), or unset it.");

        string shim = FindShim() ?? throw new InvalidOperationException(
            $"{LibTorchVariable} is set, but {ShimFileName} is not beside TorchSharp.dll nor in the NuGet packages folder.");
        string current = "";
        try
        {
            // libtorch.so needs the CUDA libraries when the folder has them; loading them first, by full path, lets a
            // later dlopen by name (TorchSharp's CUDA initialisation) find them already in the process.
            foreach (string library in new[] { "libc10.so", "libc10_cuda.so", "libtorch_cpu.so", "libtorch_cuda.so", "libtorch.so" })
            {
                current = Path.Combine(folder, library);
                if (File.Exists(current))
                    NativeLibrary.Load(current);
            }

            bool patch = stdCxx is not null && !ProvidesVersion(stdCxx, UnboundVersion)
                && ElfVersionPatcher.ReadRequirements(File.ReadAllBytes(shim)).Any(r => r.Version == UnboundVersion && !r.IsWeak);
            current = patch ? PreparePatchedCopy(File.ReadAllBytes(shim), CacheDirectory()) : shim;
            NativeLibrary.Load(current);
        }
        catch (DllNotFoundException e)
        {
            throw new InvalidOperationException(
                $"{LibTorchVariable} = '{folder}': loading {current} failed: {e.Message} When this is the shim " +
                $"({ShimFileName}), the libtorch in that folder does not match the version TorchSharp {TorchSharpVersion()} " +
                "was built against (undefined C++ symbols = ABI/version mismatch).", e);
        }

        return new(TorchRuntimeAction.LoadedFromLibTorchFolder, $"Loaded libtorch from {folder}, then {current}.", shim, current == shim ? null : current);
    }

    /// <summary>
    /// Writes the patched copy of <paramref name="original"/> into <paramref name="cacheRoot"/> (unless a verified
    /// identical copy is there) and returns its path. Safe to call from several threads and processes at once.
    /// </summary>
    internal static string PreparePatchedCopy(byte[] original, string cacheRoot)
    {
        byte[] patched = (byte[])original.Clone();
        ElfVersionPatcher.MarkWeak(patched, StdCxxLibrary, UnboundVersion);

        string folder = Path.Combine(cacheRoot, Convert.ToHexStringLower(SHA256.HashData(original))[..16]);
        string target = Path.Combine(folder, ShimFileName);
        if (File.Exists(target) && File.ReadAllBytes(target).AsSpan().SequenceEqual(patched))
            return target;

        Directory.CreateDirectory(folder);
        string temporary = Path.Combine(folder, $"{ShimFileName}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");
        File.WriteAllBytes(temporary, patched);
        // rename(2) is atomic: a concurrent loader sees either no file or a complete one.
        File.Move(temporary, target, overwrite: true);
        return target;
    }

    /// <summary>Finds TorchSharp's shipped shim, looking where .NET and TorchSharp themselves look.</summary>
    internal static string? FindShim() =>
        CandidateDirectories("torchsharp", TorchSharpVersion())
            .Select(d => Path.Combine(d, ShimFileName))
            .FirstOrDefault(File.Exists);

    private static string? FindLibTorchDirectory(string shimDirectory) =>
        new[] { shimDirectory }.Concat(CandidateDirectories("libtorch-cpu-linux-x64", null))
            .FirstOrDefault(d => s_libTorchDependencies.All(f => File.Exists(Path.Combine(d, f))));

    private static IEnumerable<string> CandidateDirectories(string package, string? version)
    {
        const string nativeSubfolder = "runtimes/linux-x64/native";
        var bases = new List<string>();
        if (Path.GetDirectoryName(typeof(torch).Assembly.Location) is { Length: > 0 } torchSharpDir)
            bases.Add(torchSharpDir);
        bases.Add(AppContext.BaseDirectory);
        foreach (string b in bases)
        {
            yield return b;
            yield return Path.Combine(b, nativeSubfolder);
        }

        if (AppContext.GetData("NATIVE_DLL_SEARCH_DIRECTORIES") is string searchDirectories)
        {
            foreach (string d in searchDirectories.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
                yield return d;
        }

        string packages = Environment.GetEnvironmentVariable("NUGET_PACKAGES")
            ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        string packageDir = Path.Combine(packages, package);
        if (!Directory.Exists(packageDir))
            yield break;
        var versions = version is not null
            ? [Path.Combine(packageDir, version)]
            : Directory.GetDirectories(packageDir).OrderDescending(StringComparer.Ordinal).ToArray();
        foreach (string v in versions)
            yield return Path.Combine(v, nativeSubfolder);
    }

    private static string TorchSharpVersion()
    {
        var v = typeof(torch).Assembly.GetName().Version ?? new Version(0, 0, 0);
        return $"{v.Major}.{v.Minor}.{v.Build}";
    }

    private static string CacheDirectory() =>
        Environment.GetEnvironmentVariable(NativeCacheVariable) is { Length: > 0 } configured
            ? configured
            : Path.Combine(
                Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData, Environment.SpecialFolderOption.Create) is { Length: > 0 } local
                    ? local
                    : Path.GetTempPath(),
                "transformer-mlnet", "native");

    /// <summary>
    /// The path of a library of that file name (or a versioned file behind it, e.g. <c>libstdc++.so.6.0.30</c>)
    /// mapped into this process, from /proc/self/maps.
    /// </summary>
    internal static string? LoadedLibraryPath(string fileName)
    {
        try
        {
            foreach (string line in File.ReadLines("/proc/self/maps"))
            {
                int slash = line.IndexOf('/');
                if (slash < 0)
                    continue;
                string name = Path.GetFileName(line[slash..]);
                if (name == fileName || name.StartsWith(fileName + ".", StringComparison.Ordinal))
                    return line[slash..];
            }
        }
        catch (IOException)
        {
        }

        return null;
    }

    private static string? FindSystemStdCxx() =>
        new[] { "/usr/lib/x86_64-linux-gnu", "/lib/x86_64-linux-gnu", "/usr/lib64", "/lib64", "/usr/lib" }
            .Select(d => Path.Combine(d, StdCxxLibrary))
            .FirstOrDefault(File.Exists);

    /// <summary>True when the library's bytes define that version name (its string is in the file).</summary>
    internal static bool ProvidesVersion(string library, string version)
    {
        byte[] needle = Encoding.ASCII.GetBytes(version + "\0");
        return File.ReadAllBytes(library).AsSpan().IndexOf(needle) >= 0;
    }

    private static InvalidOperationException Failure(string what, Exception? inner = null) => new(
        $"TorchSharp's native library cannot load on this machine as shipped: its {ShimFileName} requires " +
        $"{UnboundVersion} from {StdCxxLibrary}, which this system's libstdc++ (older than GCC 13) lacks. " +
        $"Transformer.MLNet relaxes that one unused requirement on a private copy, but {what}", inner);
}
