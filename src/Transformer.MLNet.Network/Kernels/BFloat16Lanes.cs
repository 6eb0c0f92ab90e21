using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Transformer.MLNet.Network.Kernels;

/// <summary>bfloat16 ↔ float32 for eight values at a time, for the kernels in this folder.</summary>
internal static unsafe class BFloat16Lanes
{
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
