using TorchSharp;

namespace Transformer.MLNet.Network.Training;

/// <summary>Makes weight initialisation, dropout and data shuffling repeat exactly for a given seed.</summary>
public static class Seeding
{
    /// <summary>Seeds TorchSharp's global generator and returns a managed generator for data order.</summary>
    /// <param name="seed">Any integer; the same seed gives the same weights, dropout masks and shuffles on CPU.</param>
    /// <returns>A <see cref="Random"/> seeded with <paramref name="seed"/>, for shuffling and sampling on the managed side.</returns>
    public static Random Apply(int seed)
    {
        torch.random.manual_seed(seed);
        return new Random(seed);
    }
}
