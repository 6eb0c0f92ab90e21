namespace Transformer.MLNet.Network.TokenClassification;

/// <summary>The casing of a word, which an uncased tokenizer drops: the classes of <see cref="TokenClassifierModel"/>'s casing embedding.</summary>
internal static class WordCasing
{
    /// <summary>Number of classes.</summary>
    public const int Count = 5;

    /// <summary>[CLS], [SEP] and padding.</summary>
    public const long Special = 0;

    /// <summary>The class of a word: no letter (1), all lower case (2), capitalised (3), all upper case (4, two letters or more), mixed (also 3 when the first letter is upper case).</summary>
    public static long Of(string word)
    {
        bool anyLetter = false, anyLower = false, anyUpper = false, firstUpper = false;
        foreach (char c in word)
        {
            if (!char.IsLetter(c))
                continue;
            if (!anyLetter)
                firstUpper = char.IsUpper(c);
            anyLetter = true;
            anyLower |= char.IsLower(c);
            anyUpper |= char.IsUpper(c);
        }

        if (!anyLetter)
            return 1;
        if (!anyUpper)
            return 2;
        if (!anyLower && word.Count(char.IsLetter) > 1)
            return 4;
        return 3;
    }
}
