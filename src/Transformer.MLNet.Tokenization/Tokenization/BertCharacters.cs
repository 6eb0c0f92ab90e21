using System.Globalization;
using System.Text;

namespace Transformer.MLNet.Network.Tokenization;

/// <summary>
/// The character classes and mappings of Hugging Face's BERT normaliser and pre-tokenizer, on Unicode 17.0.
/// </summary>
/// <remarks>
/// .NET 10's <see cref="CharUnicodeInfo"/> knows Unicode 16.0, and its casing and normalisation come from the system's
/// ICU (72 = Unicode 15.0 on Debian 12, newer elsewhere). Hugging Face's tokenizers are checked here against
/// <c>@huggingface/tokenizers</c> on node 20, whose ICU 78 knows Unicode 17.0. A sweep of all 1,114,112 code points
/// found these differences, and the tables below add them (facts of Unicode 17.0's UnicodeData.txt and
/// DerivedCoreProperties.txt), so that the result does not depend on the machine:
/// <list type="bullet">
/// <item>40 characters new in Unicode 17.0: 39 nonspacing marks (which BERT strips) and one punctuation mark;</item>
/// <item>55 lower-case mappings of Unicode 16.0 and 17.0 letters, and U+0130 (İ), which lower-cases to i + U+0307 in
/// full case mapping (.NET's invariant casing leaves it unchanged);</item>
/// <item>20 canonical decompositions of Unicode 16.0 letters;</item>
/// <item>the Cased and Case_Ignorable properties, which decide where Σ lower-cases to final ς (as JavaScript's
/// <c>toLowerCase</c> does), beyond what the general category says.</item>
/// </list>
/// </remarks>
internal static class BertCharacters
{
    private static readonly (int First, int Last)[] NewNonspacingMarks =
    [
        (0x1ACF, 0x1ADD), (0x1AE0, 0x1AEB), (0x10EFA, 0x10EFB), (0x11B60, 0x11B60), (0x11B62, 0x11B64), (0x11B66, 0x11B66),
        (0x1E6E3, 0x1E6E3), (0x1E6E6, 0x1E6E6), (0x1E6EE, 0x1E6EF), (0x1E6F5, 0x1E6F5),
    ];

    private const int NewPunctuation = 0x10ED0;

    // Case_Ignorable characters that are not Mn, Me, Cf, Lm or Sk: word-internal punctuation (Word_Break MidLetter,
    // MidNumLet, Single_Quote) and letters and marks .NET does not know yet.
    private static readonly (int First, int Last)[] ExtraCaseIgnorable =
    [
        (0x27, 0x27), (0x2E, 0x2E), (0x3A, 0x3A), (0xB7, 0xB7), (0x387, 0x387), (0x55F, 0x55F), (0x5F4, 0x5F4),
        (0x2018, 0x2019), (0x2024, 0x2024), (0x2027, 0x2027), (0xA7F1, 0xA7F1), (0xFE13, 0xFE13), (0xFE52, 0xFE52),
        (0xFE55, 0xFE55), (0xFF07, 0xFF07), (0xFF0E, 0xFF0E), (0xFF1A, 0xFF1A), (0x10EC5, 0x10EC5), (0x11DD9, 0x11DD9),
        (0x16FF2, 0x16FF3), (0x1E6FF, 0x1E6FF),
    ];

    // Cased characters that are not Lu, Ll or Lt: Other_Lowercase and Other_Uppercase symbols and letters of
    // Unicode 17.0 (ª º, Roman numerals, circled and squared Latin letters, Beria Erfe).
    private static readonly (int First, int Last)[] ExtraCased =
    [
        (0xAA, 0xAA), (0xBA, 0xBA), (0x2160, 0x217F), (0x24B6, 0x24E9), (0xA7CE, 0xA7CF), (0xA7D2, 0xA7D2), (0xA7D4, 0xA7D4),
        (0x16EA0, 0x16EB8), (0x16EBB, 0x16ED3), (0x1F130, 0x1F149), (0x1F150, 0x1F169), (0x1F170, 0x1F189),
    ];

    // (first, last, offset to the lower-case letter) for letters of Unicode 16.0 and 17.0.
    private static readonly (int First, int Last, int Offset)[] NewLowercase =
    [
        (0x1C89, 0x1C89, 1), (0xA7CB, 0xA7CB, 0x0264 - 0xA7CB), (0xA7CC, 0xA7CC, 1), (0xA7CE, 0xA7CE, 1), (0xA7D2, 0xA7D2, 1),
        (0xA7D4, 0xA7D4, 1), (0xA7DA, 0xA7DA, 1), (0xA7DC, 0xA7DC, 0x019B - 0xA7DC), (0x10D50, 0x10D65, 0x20), (0x16EA0, 0x16EB8, 27),
    ];

    // Canonical decompositions of Unicode 16.0 (Todhri, Tulu-Tigalari, Gurung Khema, Kirat Rai).
    private static readonly Dictionary<int, int[]> NewDecompositions = new()
    {
        [0x105C9] = [0x105D2, 0x0307], [0x105E4] = [0x105DA, 0x0307],
        [0x11383] = [0x11382, 0x113C9], [0x11385] = [0x11384, 0x113BB], [0x1138E] = [0x1138B, 0x113C2],
        [0x11391] = [0x11390, 0x113C9], [0x113C5] = [0x113C2, 0x113C2], [0x113C7] = [0x113C2, 0x113B8],
        [0x113C8] = [0x113C2, 0x113C9],
        [0x16121] = [0x1611E, 0x1611E], [0x16122] = [0x1611E, 0x16129], [0x16123] = [0x1611E, 0x1611F],
        [0x16124] = [0x16129, 0x1611F], [0x16125] = [0x1611E, 0x16120], [0x16126] = [0x1611E, 0x1611E, 0x1611F],
        [0x16127] = [0x1611E, 0x16129, 0x1611F], [0x16128] = [0x1611E, 0x1611E, 0x16120],
        [0x16D68] = [0x16D67, 0x16D67], [0x16D69] = [0x16D63, 0x16D67], [0x16D6A] = [0x16D63, 0x16D67, 0x16D67],
    };

    private static bool InRanges(ReadOnlySpan<(int First, int Last)> ranges, int codePoint)
    {
        foreach (var (first, last) in ranges)
        {
            if (codePoint >= first && codePoint <= last)
                return true;
        }

        return false;
    }

    private static UnicodeCategory Category(int codePoint) =>
        codePoint is >= 0xD800 and <= 0xDFFF ? UnicodeCategory.Surrogate : CharUnicodeInfo.GetUnicodeCategory(codePoint);

    /// <summary>Deleted by the cleaner: Cc, Cf, Co and Cs (lone surrogates), and U+FFFD, except tab, LF and CR.</summary>
    public static bool IsDeleted(int codePoint) =>
        codePoint is not ('\t' or '\n' or '\r')
        && (codePoint == 0xFFFD || Category(codePoint) is UnicodeCategory.Control or UnicodeCategory.Format
            or UnicodeCategory.PrivateUse or UnicodeCategory.Surrogate);

    /// <summary>
    /// Read as a space by the cleaner: JavaScript's <c>\s</c> (tab, LF, VT, FF, CR, Zs, U+2028, U+2029, U+FEFF), of
    /// which VT, FF and U+FEFF are deleted first as controls.
    /// </summary>
    public static bool IsWhitespace(int codePoint) =>
        codePoint is '\t' or '\n' or '\v' or '\f' or '\r' or ' ' or 0x2028 or 0x2029 or 0xFEFF
        || (codePoint >= 0x80 && Category(codePoint) == UnicodeCategory.SpaceSeparator);

    /// <summary>A token of its own for the pre-tokenizer: Unicode P* and every non-alphanumeric ASCII character.</summary>
    public static bool IsPunctuation(int codePoint) =>
        codePoint is >= 0x21 and <= 0x2F or >= 0x3A and <= 0x40 or >= 0x5B and <= 0x60 or >= 0x7B and <= 0x7E
        || codePoint == NewPunctuation
        || (codePoint >= 0x80 && Category(codePoint) is >= UnicodeCategory.ConnectorPunctuation and <= UnicodeCategory.OtherPunctuation);

    /// <summary>Removed by accent stripping (Unicode Mn, after NFD).</summary>
    public static bool IsNonspacingMark(int codePoint) =>
        Category(codePoint) == UnicodeCategory.NonSpacingMark || InRanges(NewNonspacingMarks, codePoint);

    /// <summary>
    /// Spaced out by the Chinese-character rule. The reference tests UTF-16 code units, so only the BMP blocks
    /// (CJK Unified Ideographs, Extension A, Compatibility Ideographs) are ever spaced out; the supplementary
    /// extensions stay inside words.
    /// </summary>
    public static bool IsSpacedChinese(char c) => c is >= '\u4E00' and <= '\u9FFF' or >= '\u3400' and <= '\u4DBF' or >= '\uF900' and <= '\uFAFF';

    /// <summary>Appends the full lower case of the code point at <paramref name="index"/>, as JavaScript's <c>toLowerCase</c>.</summary>
    public static void AppendLowercase(StringBuilder builder, string text, int index, Rune rune)
    {
        int codePoint = rune.Value;
        if (codePoint < 0x80)
        {
            builder.Append((char)(codePoint is >= 'A' and <= 'Z' ? codePoint + 32 : codePoint));
            return;
        }

        if (codePoint == 0x130)
        {
            builder.Append("i\u0307");
            return;
        }

        if (codePoint == 0x3A3)
        {
            builder.Append(IsFinalSigma(text, index) ? 'ς' : 'σ');
            return;
        }

        foreach (var (first, last, offset) in NewLowercase)
        {
            if (codePoint >= first && codePoint <= last)
            {
                builder.Append(char.ConvertFromUtf32(codePoint + offset));
                return;
            }
        }

        var lower = Rune.ToLowerInvariant(rune);
        Span<char> buffer = stackalloc char[2];
        builder.Append(buffer[..lower.EncodeToUtf16(buffer)]);
    }

    /// <summary>Appends the decomposition of a code point that the system's NFD may not know, without Mn.</summary>
    /// <returns>Whether the code point has such a decomposition.</returns>
    public static bool TryAppendNewDecomposition(StringBuilder builder, int codePoint)
    {
        if (codePoint < 0x105C9 || !NewDecompositions.TryGetValue(codePoint, out var parts))
            return false;
        foreach (int part in parts)
        {
            if (!IsNonspacingMark(part))
                builder.Append(char.ConvertFromUtf32(part));
        }

        return true;
    }

    // Unicode's Final_Sigma condition, tested the way ICU does: walking away from Σ, a case-ignorable character is
    // skipped even when it is also cased; the first other character decides. Each walk stops at the next cased or
    // uncased character, so a text's Σs together walk each character at most twice.
    private static bool IsFinalSigma(string text, int index) =>
        CasedNeighbour(text, index, forward: false) && !CasedNeighbour(text, index + 1, forward: true);

    private static bool CasedNeighbour(string text, int index, bool forward)
    {
        while (forward ? index < text.Length : index > 0)
        {
            Rune rune;
            if (forward)
            {
                Rune.DecodeFromUtf16(text.AsSpan(index), out rune, out int used);
                index += used;
            }
            else
            {
                Rune.DecodeLastFromUtf16(text.AsSpan(0, index), out rune, out int used);
                index -= used;
            }

            int codePoint = rune.Value;
            if (IsCaseIgnorable(codePoint))
                continue;
            return IsCased(codePoint);
        }

        return false;
    }

    private static bool IsCaseIgnorable(int codePoint) =>
        Category(codePoint) is UnicodeCategory.NonSpacingMark or UnicodeCategory.EnclosingMark or UnicodeCategory.Format
            or UnicodeCategory.ModifierLetter or UnicodeCategory.ModifierSymbol
        || InRanges(ExtraCaseIgnorable, codePoint) || InRanges(NewNonspacingMarks, codePoint);

    private static bool IsCased(int codePoint) =>
        codePoint != 0x295   // ʕ became Lo in Unicode 16.0
        && (Category(codePoint) is UnicodeCategory.UppercaseLetter or UnicodeCategory.LowercaseLetter or UnicodeCategory.TitlecaseLetter
            || InRanges(ExtraCased, codePoint));
}
