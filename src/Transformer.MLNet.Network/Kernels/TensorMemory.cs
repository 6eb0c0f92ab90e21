using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using static TorchSharp.torch;

namespace Transformer.MLNet.Network.Kernels;

/// <summary>Raw access to a CPU tensor's elements, for the kernels in this folder.</summary>
internal static unsafe class TensorMemory
{
    /// <summary>
    /// The address of the first element of <paramref name="tensor"/> (a contiguous float32 CPU tensor); valid while the
    /// tensor is alive (libtorch's storage does not move).
    /// </summary>
    public static float* Floats(Tensor tensor) => (float*)Bytes(tensor);

    /// <summary>The address of the first byte of <paramref name="tensor"/> (a contiguous CPU tensor of any type), valid as
    /// <see cref="Floats"/> is.</summary>
    public static byte* Bytes(Tensor tensor) => (byte*)Unsafe.AsPointer(ref MemoryMarshal.GetReference(tensor.bytes));
}
