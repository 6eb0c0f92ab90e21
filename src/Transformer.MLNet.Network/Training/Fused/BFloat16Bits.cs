using System.Numerics;
using System.Runtime.InteropServices;

namespace Transformer.MLNet.Network.Training.Fused;

/// <summary>
/// bfloat16 as the upper 16 bits of a float32: widening is a shift, narrowing rounds to nearest with ties to even and
/// turns NaN into 0xFFFF, as libtorch's vectorised conversion does (its scalar one writes 0x7FC0; both are NaN).
/// </summary>
internal static class BFloat16Bits
{
    /// <summary>Each bfloat16 of <paramref name="source"/> as a float32 (exact).</summary>
    public static void Widen(ReadOnlySpan<ushort> source, Span<float> destination)
    {
        int done = 0;
        if (Vector.IsHardwareAccelerated && source.Length >= Vector<ushort>.Count)
        {
            var bits = MemoryMarshal.Cast<ushort, Vector<ushort>>(source);
            var output = MemoryMarshal.Cast<float, Vector<float>>(destination);
            for (int i = 0; i < bits.Length; i++)
            {
                Vector.Widen(bits[i], out var low, out var high);
                output[2 * i] = Vector.AsVectorSingle(Vector.ShiftLeft(low, 16));
                output[2 * i + 1] = Vector.AsVectorSingle(Vector.ShiftLeft(high, 16));
            }

            done = bits.Length * Vector<ushort>.Count;
        }

        for (int i = done; i < source.Length; i++)
            destination[i] = BitConverter.UInt32BitsToSingle((uint)source[i] << 16);
    }

    /// <summary>Each float32 of <paramref name="source"/> rounded to bfloat16 (to nearest, ties to even; NaN → 0xFFFF).</summary>
    public static void Round(ReadOnlySpan<float> source, Span<ushort> destination)
    {
        int done = 0;
        if (Vector.IsHardwareAccelerated && source.Length >= Vector<ushort>.Count)
        {
            var values = MemoryMarshal.Cast<float, Vector<float>>(source);
            var output = MemoryMarshal.Cast<ushort, Vector<ushort>>(destination);
            for (int i = 0; i < output.Length; i++)
                output[i] = Vector.Narrow(Rounded(values[2 * i]), Rounded(values[2 * i + 1]));
            done = output.Length * Vector<ushort>.Count;
        }

        for (int i = done; i < source.Length; i++)
            destination[i] = Round(source[i]);
    }

    /// <summary>One float32 rounded to bfloat16 bits.</summary>
    public static ushort Round(float value)
    {
        uint bits = BitConverter.SingleToUInt32Bits(value);
        if (float.IsNaN(value))
            return 0xFFFF;
        return (ushort)((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16);
    }

    // The rounded bfloat16 in the low 16 bits of each lane.
    private static Vector<uint> Rounded(Vector<float> values)
    {
        var bits = Vector.AsVectorUInt32(values);
        var rounded = Vector.ShiftRightLogical(bits + new Vector<uint>(0x7FFF) + (Vector.ShiftRightLogical(bits, 16) & Vector<uint>.One), 16);
        var isNumber = Vector.AsVectorUInt32(Vector.Equals(values, values));
        return Vector.ConditionalSelect(isNumber, rounded, new Vector<uint>(0xFFFF));
    }
}
