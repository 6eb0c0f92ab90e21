using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Transformer.MLNet.Network.Kernels;

/// <summary>Rows of float32 or bfloat16 read and written as float32, eight values at a time, for the kernels in this folder.</summary>
internal static unsafe class BFloat16Lanes
{
    /// <summary>Eight values from element <paramref name="index"/> of <paramref name="row"/>, float32 or bfloat16, as float32.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Load(byte* row, long index, bool bfloat16) =>
        bfloat16 ? Widen((ushort*)row + index) : Vector256.Load((float*)row + index);

    /// <summary><paramref name="count"/> values (a multiple of 8), float32 or bfloat16, times <paramref name="scale"/>, as float32 at <paramref name="to"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void ToFloat32(byte* from, float* to, int count, bool bfloat16, float scale = 1f)
    {
        var factor = Vector256.Create(scale);
        for (int i = 0; i < count; i += 8)
            (Load(from, i, bfloat16) * factor).Store(to + i);
    }

    /// <summary>Eight float32 values to element <paramref name="index"/> of <paramref name="row"/>, as float32 or rounded to bfloat16.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(byte* row, long index, Vector256<float> x, bool bfloat16)
    {
        if (bfloat16)
            Vector128.Store(Narrow(x), (ushort*)row + index);
        else
            x.Store((float*)row + index);
    }

    /// <summary>Eight bfloat16 values at <paramref name="from"/> as float32 (exact: bfloat16 is float32's upper half).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Widen(ushort* from) =>
        Vector256.ShiftLeft(Vector256.WidenLower(Vector128.Load(from).ToVector256Unsafe()), 16).AsSingle();

    /// <summary>float32 to bfloat16, rounding to nearest even as libtorch does; NaN stays a (quiet) NaN.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<ushort> Narrow(Vector256<float> x)
    {
        var bits = x.AsUInt32();
        var odd = Vector256.ShiftRightLogical(bits, 16) & Vector256.Create(1u);
        var rounded = Vector256.ShiftRightLogical(bits + Vector256.Create(0x7FFFu) + odd, 16);
        var nan = ~Vector256.Equals(x, x).AsUInt32();
        var quiet = Vector256.ShiftRightLogical(bits, 16) | Vector256.Create(0x40u);
        var chosen = Vector256.ConditionalSelect(nan, quiet, rounded);
        return Vector128.Narrow(chosen.GetLower(), chosen.GetUpper());
    }
}
