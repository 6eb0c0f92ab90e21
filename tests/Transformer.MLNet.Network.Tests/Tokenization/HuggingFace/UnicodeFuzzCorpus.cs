using System.Globalization;
using System.Text;

namespace Transformer.MLNet.Network.Tests.Tokenization.HuggingFace;

/// <summary>
/// Generated text over all of Unicode, for comparing tokenizers: each string joins a few fragments of the kinds where
/// tokenizers disagree (every general category, combining marks, CJK, bidi controls, emoji sequences, every kind of
/// whitespace, long words, digit and punctuation runs, lone surrogates, noncharacters, casing specials, special tokens).
/// </summary>
internal static class UnicodeFuzzCorpus
{
    private static readonly Lazy<Dictionary<UnicodeCategory, int[]>> ByCategory = new(() =>
        Enumerable.Range(0, 0x110000).GroupBy(cp => cp is >= 0xD800 and <= 0xDFFF ? UnicodeCategory.Surrogate : CharUnicodeInfo.GetUnicodeCategory(cp))
            .ToDictionary(group => group.Key, group => group.ToArray()));

    // Blocks with characters of Unicode 16.0 and 17.0, which .NET and the system's ICU may not know yet.
    private static readonly (int First, int Last)[] RecentBlocks =
    [
        (0x1AB0, 0x1AFF), (0x1C80, 0x1C8F), (0xA7C0, 0xA7FF), (0x105C0, 0x105FF), (0x10D40, 0x10D8F), (0x10EC0, 0x10EFF),
        (0x11380, 0x113FF), (0x11B60, 0x11B7F), (0x11DB0, 0x11DEF), (0x16100, 0x1613F), (0x16D40, 0x16D7F), (0x16EA0, 0x16EDF),
        (0x16FF0, 0x16FFF), (0x1E6C0, 0x1E6FF), (0x1CC00, 0x1CEBF), (0x323B0, 0x3347F),
    ];

    private static readonly (int First, int Last)[] CjkBlocks =
    [
        (0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0xF900, 0xFAFF), (0x20000, 0x2A6DF), (0x2A700, 0x2EBEF), (0x2F800, 0x2FA1F),
        (0x30000, 0x323AF), (0x3040, 0x30FF), (0xAC00, 0xD7A3), (0x1100, 0x11FF), (0x3130, 0x318F), (0x3000, 0x303F), (0xFF00, 0xFFEF),
    ];

    private static readonly int[] Whitespace =
    [
        0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x1C, 0x1D, 0x1E, 0x1F, 0x20, 0x85, 0xA0, 0x1680, 0x180E, 0x2000, 0x2001, 0x2002, 0x2003,
        0x2004, 0x2005, 0x2006, 0x2007, 0x2008, 0x2009, 0x200A, 0x200B, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000, 0xFEFF,
    ];

    private static readonly int[] BidiControls = [0x200E, 0x200F, 0x202A, 0x202B, 0x202C, 0x202D, 0x202E, 0x2066, 0x2067, 0x2068, 0x2069, 0x061C];

    // Σ lower-cases by context; the others have special or recent case mappings, or are cased / case-ignorable
    // without being letters.
    private static readonly string[] CasingAlphabet =
    [
        "Σ", "Σ", "Σ", "σ", "ς", "Α", "α", "'", ".", ":", "·", "’", "\u0301", "\u00AD", "\u200B", "ª", "Ⅻ", "ⓐ", "Ⓐ", "🄰", "ʰ", "ˆ",
        " ", "a", "1", "İ", "ı", "ß", "ǅ", "ﬁ", "Ꭰ", "Ა", "ʕ", "\uA7CB", "\uA7DC", "\U00010D50", "\U00016EA0", "\u1C89", "\U0001E030",
    ];

    private static readonly string[] Words =
    [
        "the", "The", "SERVICE", "was", "great", "don't", "U.S.", "e-mail", "naïve", "Résumé", "Ångström", "Tiếng Việt", "straße",
        "İstanbul", "ΟΔΟΣ", "Москва", "日本語", "한국어", "unaffable", "supercalifragilisticexpialidocious", "q3", "7.4m", "C++", "#1",
    ];

    private const string SeparatorPunctuation = "!,.;?-'\"()[]{}¿¡«»—…、。";

    private const string DigitsAndPunctuation = "0123456789٠١٢३४!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~¡¿«»—–…‘’“”·、。「」";

    private static readonly string[] SpecialTokens = ["[CLS]", "[SEP]", "[UNK]", "[PAD]", "[MASK]", "[cls]", "[CLS", "[[SEP]]", "[MASK][MASK]", "x[SEP]y"];

    private static readonly string[] Emoji =
    [
        "👨\u200D👩\u200D👧\u200D👦", "👩🏽\u200D💻", "🏳\uFE0F\u200D🌈", "❤\uFE0F", "☺\uFE0E", "1\uFE0F\u20E3", "#\uFE0F\u20E3",
        "🏴\U000E0067\U000E0062\U000E0065\U000E006E\U000E0067\U000E007F", "🤷🏿\u200D♀\uFE0F", "😀", "👍🏻",
    ];

    /// <summary>Generates <paramref name="count"/> strings; the same seed gives the same strings.</summary>
    public static List<string> Generate(int count, int seed)
    {
        var random = new Random(seed);
        var texts = new List<string>(count);
        var builder = new StringBuilder();
        for (int i = 0; i < count; i++)
        {
            builder.Clear();
            int fragments = random.Next(1, 7);
            for (int f = 0; f < fragments; f++)
            {
                if (f > 0)
                    AppendSeparator(builder, random);
                AppendFragment(builder, random);
            }

            texts.Add(builder.ToString());
        }

        return texts;
    }

    private static void AppendSeparator(StringBuilder builder, Random random)
    {
        switch (random.Next(5))
        {
            case 0 or 1: builder.Append(' '); break;
            case 2: AppendCodePoint(builder, Whitespace[random.Next(Whitespace.Length)]); break;
            case 3: builder.Append(SeparatorPunctuation[random.Next(SeparatorPunctuation.Length)]); break;
            default: break;   // fragments run together
        }
    }

    private static void AppendFragment(StringBuilder builder, Random random)
    {
        switch (random.Next(16))
        {
            case 0 or 1:   // any general category, each equally likely; Cs gives a lone surrogate
                var categories = ByCategory.Value;
                var codePoints = categories[(UnicodeCategory)random.Next(30)];
                for (int n = random.Next(1, 4); n > 0; n--)
                    AppendCodePoint(builder, codePoints[random.Next(codePoints.Length)]);
                break;
            case 2:
                for (int n = random.Next(1, 4); n > 0; n--)
                    AppendCodePoint(builder, InRanges(random, RecentBlocks));
                break;
            case 3:   // a letter with combining marks of every kind
                AppendCodePoint(builder, "aeoAEOnsiΣ"[random.Next(10)]);
                for (int n = random.Next(1, 5); n > 0; n--)
                {
                    var marks = ByCategory.Value[(UnicodeCategory)random.Next((int)UnicodeCategory.NonSpacingMark, (int)UnicodeCategory.EnclosingMark + 1)];
                    AppendCodePoint(builder, marks[random.Next(marks.Length)]);
                }

                break;
            case 4:
                for (int n = random.Next(1, 6); n > 0; n--)
                    AppendCodePoint(builder, InRanges(random, CjkBlocks));
                break;
            case 5:   // Arabic or Hebrew with bidi controls between and inside words
                AppendCodePoint(builder, BidiControls[random.Next(BidiControls.Length)]);
                for (int n = random.Next(2, 8); n > 0; n--)
                {
                    AppendCodePoint(builder, random.Next(2) == 0 ? random.Next(0x0621, 0x064B) : random.Next(0x05D0, 0x05EB));
                    if (random.Next(4) == 0)
                        AppendCodePoint(builder, BidiControls[random.Next(BidiControls.Length)]);
                }

                break;
            case 6:
                builder.Append(Emoji[random.Next(Emoji.Length)]);
                if (random.Next(3) == 0)   // a flag: two regional indicators
                    AppendCodePoint(builder, 0x1F1E6 + random.Next(26)).Append(char.ConvertFromUtf32(0x1F1E6 + random.Next(26)));
                break;
            case 7:
                for (int n = random.Next(1, 5); n > 0; n--)
                    AppendCodePoint(builder, Whitespace[random.Next(Whitespace.Length)]);
                break;
            case 8 when random.Next(4) == 0:   // rarer than the others: long words are most of the text's length
                AppendLongWord(builder, random);
                break;
            case 9:   // digit and punctuation runs
                for (int n = random.Next(1, 30); n > 0; n--)
                    builder.Append(DigitsAndPunctuation[random.Next(DigitsAndPunctuation.Length)]);
                break;
            case 10:   // lone surrogates and noncharacters, private use, replacement character
                int[] odd = [random.Next(0xD800, 0xDC00), random.Next(0xDC00, 0xE000), random.Next(0xFDD0, 0xFDF0), 0xFFFE, 0xFFFF, 0x1FFFE, 0x10FFFF,
                    random.Next(0xE000, 0xF900), 0xF0000, 0xFFFD, 0];
                AppendCodePoint(builder, odd[random.Next(odd.Length)]);
                break;
            case 11:
                for (int n = random.Next(1, 8); n > 0; n--)
                    builder.Append(CasingAlphabet[random.Next(CasingAlphabet.Length)]);
                break;
            case 12:
                builder.Append(SpecialTokens[random.Next(SpecialTokens.Length)]);
                break;
            case 13:   // a word, sometimes decomposed
                string word = Words[random.Next(Words.Length)];
                builder.Append(random.Next(3) == 0 ? word.Normalize(NormalizationForm.FormD) : word);
                break;
            default:   // plain printable ASCII
                for (int n = random.Next(1, 12); n > 0; n--)
                    builder.Append((char)random.Next(0x20, 0x7F));
                break;
        }
    }

    // Letters of one script, around the 100-character limit or far beyond it, sometimes with accents that stripping
    // removes (so the limit applies to the stripped word).
    private static void AppendLongWord(StringBuilder builder, Random random)
    {
        int[] lengths = [random.Next(95, 106), random.Next(95, 106), random.Next(95, 106), 200, 1000];
        int length = lengths[random.Next(lengths.Length)];
        string alphabet = new[] { "abcdefghijklmnopqrstuvwxyzABCXYZ", "éèêëàâäôöûüçñ", "αβγδεζηθικλμνξοπρστυφχψωΣ", "абвгдежзийклмнопрстуфхцчшщ" }[random.Next(4)];
        bool accents = random.Next(3) == 0;
        for (int n = 0; n < length; n++)
        {
            builder.Append(alphabet[random.Next(alphabet.Length)]);
            if (accents && random.Next(4) == 0)
                builder.Append('\u0301');
        }
    }

    private static int InRanges(Random random, (int First, int Last)[] ranges)
    {
        var (first, last) = ranges[random.Next(ranges.Length)];
        return random.Next(first, last + 1);
    }

    private static StringBuilder AppendCodePoint(StringBuilder builder, int codePoint) =>
        codePoint is >= 0xD800 and <= 0xDFFF ? builder.Append((char)codePoint) : builder.Append(char.ConvertFromUtf32(codePoint));
}
