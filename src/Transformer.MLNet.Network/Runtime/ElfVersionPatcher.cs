using System.Buffers.Binary;
using System.Text;

namespace Transformer.MLNet.Network.Runtime;

/// <summary>
/// Edits the symbol-version requirements (<c>.gnu.version_r</c>) of a 64-bit little-endian ELF shared library.
/// </summary>
/// <remarks>
/// The only edit offered is to mark one required version as weak (<c>VER_FLG_WEAK</c>): glibc's loader then
/// treats that version's absence from the providing library as non-fatal. Layout per the System V gABI and the
/// LSB "Symbol Versioning" chapter: <c>Elf64_Verneed</c> {vn_version u16, vn_cnt u16, vn_file u32, vn_aux u32,
/// vn_next u32}; <c>Elf64_Vernaux</c> {vna_hash u32, vna_flags u16, vna_other u16, vna_name u32, vna_next u32}.
/// </remarks>
internal static class ElfVersionPatcher
{
    private const uint ShtGnuVerneed = 0x6ffffffe;
    private const ushort VerFlagWeak = 0x2;

    /// <summary>One version requirement found in the file.</summary>
    /// <param name="Library">The needed library's file name (e.g. <c>libstdc++.so.6</c>).</param>
    /// <param name="Version">The version name (e.g. <c>GLIBCXX_3.4.32</c>).</param>
    /// <param name="Flags">The <c>vna_flags</c> value.</param>
    /// <param name="FlagsOffset">Byte offset of <c>vna_flags</c> in the file.</param>
    public readonly record struct VersionRequirement(string Library, string Version, ushort Flags, long FlagsOffset)
    {
        /// <summary>True when the requirement is marked weak.</summary>
        public bool IsWeak => (Flags & VerFlagWeak) != 0;
    }

    /// <summary>Lists every version requirement of the file.</summary>
    /// <exception cref="InvalidDataException">The bytes are not a 64-bit little-endian ELF file with a readable version-needs section.</exception>
    public static IReadOnlyList<VersionRequirement> ReadRequirements(ReadOnlySpan<byte> elf)
    {
        if (elf.Length < 64 || elf[0] != 0x7f || elf[1] != (byte)'E' || elf[2] != (byte)'L' || elf[3] != (byte)'F')
            throw new InvalidDataException("Not an ELF file (bad magic).");
        if (elf[4] != 2 || elf[5] != 1)
            throw new InvalidDataException("Only 64-bit little-endian ELF files are supported.");

        long sectionTable = checked((long)U64(elf, 0x28));
        int entrySize = U16(elf, 0x3A);
        int count = U16(elf, 0x3C);
        var result = new List<VersionRequirement>();
        for (int i = 0; i < count; i++)
        {
            long header = sectionTable + (long)i * entrySize;
            if (U32(elf, header + 4) != ShtGnuVerneed)
                continue;

            long offset = checked((long)U64(elf, header + 24));
            uint stringSection = U32(elf, header + 40);
            uint records = U32(elf, header + 44);
            long strings = checked((long)U64(elf, sectionTable + (long)stringSection * entrySize + 24));

            long need = offset;
            for (uint r = 0; r < records; r++)
            {
                ushort auxCount = U16(elf, need + 2);
                string library = CString(elf, strings + U32(elf, need + 4));
                long aux = need + U32(elf, need + 8);
                for (int a = 0; a < auxCount; a++)
                {
                    string version = CString(elf, strings + U32(elf, aux + 8));
                    result.Add(new VersionRequirement(library, version, U16(elf, aux + 4), aux + 4));
                    uint nextAux = U32(elf, aux + 12);
                    if (nextAux == 0)
                        break;
                    aux += nextAux;
                }

                uint nextNeed = U32(elf, need + 12);
                if (nextNeed == 0)
                    break;
                need += nextNeed;
            }
        }

        return result;
    }

    /// <summary>
    /// Marks the requirement of <paramref name="version"/> from <paramref name="library"/> as weak, in place.
    /// </summary>
    /// <returns><c>true</c> if a byte changed; <c>false</c> if it was already weak.</returns>
    /// <exception cref="InvalidDataException">The file has no such requirement.</exception>
    public static bool MarkWeak(Span<byte> elf, string library, string version)
    {
        foreach (var requirement in ReadRequirements(elf))
        {
            if (requirement.Library != library || requirement.Version != version)
                continue;
            if (requirement.IsWeak)
                return false;
            BinaryPrimitives.WriteUInt16LittleEndian(
                elf.Slice(checked((int)requirement.FlagsOffset), 2), (ushort)(requirement.Flags | VerFlagWeak));
            return true;
        }

        throw new InvalidDataException($"The file has no requirement of version '{version}' from '{library}'.");
    }

    private static ushort U16(ReadOnlySpan<byte> b, long at) => BinaryPrimitives.ReadUInt16LittleEndian(Slice(b, at, 2));

    private static uint U32(ReadOnlySpan<byte> b, long at) => BinaryPrimitives.ReadUInt32LittleEndian(Slice(b, at, 4));

    private static ulong U64(ReadOnlySpan<byte> b, long at) => BinaryPrimitives.ReadUInt64LittleEndian(Slice(b, at, 8));

    private static ReadOnlySpan<byte> Slice(ReadOnlySpan<byte> b, long at, int length)
    {
        if (at < 0 || at + length > b.Length)
            throw new InvalidDataException($"ELF structure points outside the file (offset {at}).");
        return b.Slice((int)at, length);
    }

    private static string CString(ReadOnlySpan<byte> b, long at)
    {
        var rest = Slice(b, at, 1).Length == 1 ? b[(int)at..] : default;
        int end = rest.IndexOf((byte)0);
        if (end < 0)
            throw new InvalidDataException($"Unterminated string at offset {at}.");
        return Encoding.ASCII.GetString(rest[..end]);
    }
}
