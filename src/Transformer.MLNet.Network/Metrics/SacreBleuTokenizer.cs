using System.Text;
using System.Text.RegularExpressions;

namespace Transformer.MLNet.Network.Metrics;

/// <summary>
/// The word tokenizers BLEU is computed on, reproducing sacreBLEU's <c>13a</c>, <c>intl</c> and <c>none</c>
/// (sacrebleu/tokenizers/tokenizer_13a.py, tokenizer_re.py, tokenizer_intl.py), which in turn reproduce the
/// Perl scripts mteval-v13a.pl and mteval-v14.pl that WMT scored with.
/// </summary>
internal static partial class SacreBleuTokenizer
{
    /// <summary>Splits a segment into words the way the given tokenization does.</summary>
    /// <param name="segment">One hypothesis or reference line.</param>
    /// <param name="tokenization">Which tokenizer.</param>
    /// <returns>The words, in order.</returns>
    public static string[] Tokenize(string segment, BleuTokenization tokenization)
    {
        ArgumentNullException.ThrowIfNull(segment);
        string spaced = tokenization switch
        {
            BleuTokenization.Mteval13a => Tokenize13a(segment),
            BleuTokenization.International => TokenizeInternational(segment),
            BleuTokenization.None => segment,
            _ => throw new ArgumentOutOfRangeException(nameof(tokenization), tokenization,
                $"Unknown BLEU tokenization '{tokenization}'; use one of {string.Join(", ", Enum.GetNames<BleuTokenization>())}."),
        };
        return SplitOnWhitespace(spaced);
    }

    /// <summary>Splits on runs of whitespace like Python's <c>str.split()</c>, which sacreBLEU relies on.</summary>
    internal static string[] SplitOnWhitespace(string text)
    {
        var words = new List<string>();
        int start = -1;
        for (int i = 0; i <= text.Length; i++)
        {
            bool space = i == text.Length || IsPythonWhitespace(text[i]);
            if (space && start >= 0)
            {
                words.Add(text[start..i]);
                start = -1;
            }
            else if (!space && start < 0)
            {
                start = i;
            }
        }

        return [.. words];
    }

    /// <summary>Python's <c>str.isspace</c>: .NET whitespace plus the four ASCII separators U+001C–U+001F.</summary>
    internal static bool IsPythonWhitespace(char c) => char.IsWhiteSpace(c) || c is >= '\u001c' and <= '\u001f';

    private static string Tokenize13a(string line)
    {
        // mteval-v13a's language-independent part: drop markers, join hyphenated line breaks, unescape four entities.
        var text = new StringBuilder(line)
            .Replace("<skipped>", "")
            .Replace("-\n", "")
            .Replace("\n", " ")
            .Replace("&quot;", "\"")
            .Replace("&amp;", "&")
            .Replace("&lt;", "<")
            .Replace("&gt;", ">")
            .ToString();

        // The padding lets a final period or comma be split off even at the end of the line.
        text = " " + text + " ";
        text = Punctuation13a().Replace(text, " $1 ");
        text = PeriodCommaAfterNonDigit().Replace(text, "$1 $2 ");
        text = PeriodCommaBeforeNonDigit().Replace(text, " $1 $2");
        text = DashAfterDigit().Replace(text, "$1 $2 ");
        return text;
    }

    private static string TokenizeInternational(string line)
    {
        string text = PunctuationAfterNonNumber().Replace(line, "$1 $2 ");
        text = PunctuationBeforeNonNumber().Replace(text, " $1 $2");
        return Symbol().Replace(text, " $1 ");
    }

    // ASCII ranges { to ~, [ to `, space to &, ( to +, : to @, and the slash: every ASCII punctuation mark and
    // symbol except ' , - . (which the later rules handle or keep inside words).
    [GeneratedRegex(@"([\{-~\[-`\x20-&\(-\+:-@/])", RegexOptions.CultureInvariant)]
    private static partial Regex Punctuation13a();

    [GeneratedRegex(@"([^0-9])([\.,])", RegexOptions.CultureInvariant)]
    private static partial Regex PeriodCommaAfterNonDigit();

    [GeneratedRegex(@"([\.,])([^0-9])", RegexOptions.CultureInvariant)]
    private static partial Regex PeriodCommaBeforeNonDigit();

    [GeneratedRegex(@"([0-9])(-)", RegexOptions.CultureInvariant)]
    private static partial Regex DashAfterDigit();

    [GeneratedRegex(@"(\P{N})(\p{P})", RegexOptions.CultureInvariant)]
    private static partial Regex PunctuationAfterNonNumber();

    [GeneratedRegex(@"(\p{P})(\P{N})", RegexOptions.CultureInvariant)]
    private static partial Regex PunctuationBeforeNonNumber();

    [GeneratedRegex(@"(\p{S})", RegexOptions.CultureInvariant)]
    private static partial Regex Symbol();
}
