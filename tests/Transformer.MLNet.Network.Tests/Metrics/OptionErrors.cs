namespace Transformer.MLNet.Network.Tests.Metrics;

/// <summary>The check every refused metric setting or statistic shares.</summary>
internal static class OptionErrors
{
    /// <summary>
    /// Asserts that <paramref name="score"/> throws an <see cref="ArgumentException"/> whose parameter is
    /// <paramref name="name"/> and whose message holds <paramref name="message"/>.
    /// </summary>
    public static void AssertRefused(Action score, string name, string message)
    {
        var error = Assert.ThrowsExactly<ArgumentException>(score);
        Assert.AreEqual(name, error.ParamName);
        StringAssert.Contains(error.Message, message);
    }
}
