using System.Runtime.InteropServices;

namespace Transformer.MLNet.Network.Runtime;

/// <summary>
/// Lets libtorch's OpenMP worker threads sleep when they run out of work instead of spinning for it, unless the user
/// chose otherwise: <c>OMP_WAIT_POLICY=PASSIVE</c> in this process's environment before libtorch loads.
/// </summary>
/// <remarks>
/// With spinning workers, two CPU-bound processes on the same cores burn each other's time slices at every parallel
/// region's barrier: fine-tuning MiniLM beside a second copy of itself on 2 cores ran at 0.11× its quiet speed, and at
/// about 0.65× with passive waiting, with no change alone (the <c>finetune-contention</c> benchmark; docs/performance.md).
/// OpenMP runtimes read the variable once, when they load; <see cref="TorchRuntime"/> applies it before that. On
/// Linux and macOS .NET keeps its own copy of the environment, so the C library's copy is set too.
/// </remarks>
internal static class OpenMpWaitPolicy
{
    /// <summary>The OpenMP standard's variable (libgomp, LLVM's libomp and Intel's runtime all read it).</summary>
    internal const string Variable = "OMP_WAIT_POLICY";

    internal const string Passive = "PASSIVE";

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    private delegate int SetEnv([MarshalAs(UnmanagedType.LPUTF8Str)] string name, [MarshalAs(UnmanagedType.LPUTF8Str)] string value, int overwrite);

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    private delegate IntPtr GetEnv([MarshalAs(UnmanagedType.LPUTF8Str)] string name);

    /// <summary>Sets the variable to PASSIVE where it is not set at all; a value the user set, even empty, is kept.</summary>
    /// <returns>The value in effect.</returns>
    internal static string Apply()
    {
        if (Environment.GetEnvironmentVariable(Variable) is { } chosen)
            return chosen;
        Environment.SetEnvironmentVariable(Variable, Passive);     // child processes; on Windows also the native environment
        if (!OperatingSystem.IsWindows() && CLibraryExport("setenv") is { } setenv)
            Marshal.GetDelegateForFunctionPointer<SetEnv>(setenv)(Variable, Passive, 0);
        return Passive;
    }

    /// <summary>The C library's value of an environment variable (what native libraries see); null where unset or unknown.</summary>
    internal static string? NativeValue(string name)
    {
        if (OperatingSystem.IsWindows())
            return Environment.GetEnvironmentVariable(name);
        if (CLibraryExport("getenv") is not { } getenv)
            return null;
        return Marshal.PtrToStringUTF8(Marshal.GetDelegateForFunctionPointer<GetEnv>(getenv)(name));
    }

    private static IntPtr? CLibraryExport(string name)
    {
        foreach (string library in new[] { "libc.so.6", "libc.musl-x86_64.so.1", "libc.musl-aarch64.so.1", "/usr/lib/libSystem.B.dylib", "libc" })
        {
            if (NativeLibrary.TryLoad(library, out var handle) && NativeLibrary.TryGetExport(handle, name, out var export))
                return export;
        }

        return null;
    }
}
