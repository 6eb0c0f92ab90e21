using System.Numerics;
using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;

namespace Transformer.MLNet.Network.Modules;

/// <summary>
/// Inverted dropout (Srivastava et al. 2014; the paper's residual and embedding dropout, section 5.4): during training
/// each element is zeroed with probability p and the others are scaled by 1/(1 − p), so that the expected value is
/// unchanged; outside training the input passes through.
/// </summary>
/// <remarks>
/// On the CPU libtorch draws dropout masks one element at a time from its Mersenne Twister (<c>bernoulli_</c>), at
/// 7–50 ns per element: at sequence 18 the attention-weight dropout of a 6-layer encoder cost as much as its matmuls,
/// and at sequence 512 it took a second per layer. Here the keep-or-drop decision of element i is a hash of i and a
/// 64-bit seed drawn from torch's generator (so <c>torch.manual_seed</c> still makes runs repeat), computed in vector
/// registers on the intra-op threads. The hash is murmur3's 32-bit finaliser applied twice (Appleby, MurmurHash3),
/// which turns consecutive counters into uniformly spread 32-bit values; element i is dropped when its value is below
/// p·2³². On other devices libtorch's own dropout runs.
/// </remarks>
internal sealed class InvertedDropout : nn.Module<Tensor, Tensor>
{
    // Elements per unit of parallel work.
    private const int ChunkElements = 1 << 16;

    private readonly double probability;

    /// <summary>A dropout layer.</summary>
    /// <param name="probability">Probability of zeroing an element during training, in [0, 1).</param>
    public InvertedDropout(double probability) : base(nameof(InvertedDropout))
    {
        if (!(probability >= 0 && probability < 1))
            throw new ArgumentOutOfRangeException(nameof(probability), probability, "Dropout must be in [0, 1).");
        this.probability = probability;
    }

    /// <summary>The input with dropout applied while training; an alias of it otherwise.</summary>
    public override Tensor forward(Tensor input) =>
        training && probability > 0 ? Apply(input, probability) : input.alias();

    /// <summary>Dropout of <paramref name="input"/> (always, as in training), into a new tensor.</summary>
    /// <param name="input">Any floating-point tensor.</param>
    /// <param name="probability">Probability of zeroing an element, in [0, 1).</param>
    public static Tensor Apply(Tensor input, double probability)
    {
        if (probability == 0)
            return input.alias();
        if (!Native(input))
            return nn.functional.dropout(input, probability, training: true);
        using var mask = Mask(input, probability);
        return input.mul(mask);
    }

    /// <summary>Dropout of <paramref name="input"/> in place (always, as in training); its backward does not need the old values.</summary>
    /// <param name="input">Any floating-point tensor that autograd allows to be overwritten.</param>
    /// <param name="probability">Probability of zeroing an element, in [0, 1).</param>
    public static void ApplyInPlace(Tensor input, double probability)
    {
        if (probability == 0)
            return;
        if (!Native(input))
        {
            nn.functional.dropout(input, probability, training: true, inplace: true);
            return;
        }

        using var mask = Mask(input, probability);
        input.mul_(mask);
    }

    private static bool Native(Tensor input) =>
        input.device_type == DeviceType.CPU && input.is_floating_point() && input.numel() <= int.MaxValue / sizeof(float);

    [ThreadStatic]
    private static SeedStream? t_seeds;

    /// <summary>
    /// A tensor shaped and typed like <paramref name="like"/> holding 0 where an element is dropped and 1/(1 − p) where
    /// it is kept; the seed comes from torch's default generator, or from the calling thread's
    /// <see cref="UseSeeds"/> stream where it has one.
    /// </summary>
    internal static Tensor Mask(Tensor like, double probability)
    {
        ulong seed = t_seeds is { } stream ? stream.Next() : DrawSeed();

        var mask = empty(like.shape, ScalarType.Float32);
        Fill(mask, probability, seed);
        if (like.dtype == ScalarType.Float32)
            return mask;
        using (mask)
            return mask.to_type(like.dtype);
    }

    /// <summary>A 64-bit seed from torch's default generator (so <c>torch.manual_seed</c> makes it repeat).</summary>
    internal static ulong DrawSeed()
    {
        using var draw = randint(int.MinValue, int.MaxValue, [2], ScalarType.Int64);
        var halves = draw.data<long>().ToArray();
        return ((ulong)(uint)halves[0] << 32) | (uint)halves[1];
    }

    /// <summary>
    /// Until the result is disposed, the masks drawn on the calling thread take their seeds from a stream of its own
    /// started at <paramref name="start"/>, not from torch's shared generator. Threads computing parts of one batch
    /// at the same time then get the same masks whatever order they run in, so a seeded run still repeats.
    /// </summary>
    internal static IDisposable UseSeeds(ulong start)
    {
        var previous = t_seeds;
        t_seeds = new SeedStream(start);
        return new SeedScope(previous);
    }

    // SplitMix64 (Steele, Lea and Flood, "Fast Splittable Pseudorandom Number Generators", OOPSLA 2014): a Weyl
    // sequence through a 64-bit finaliser.
    private sealed class SeedStream(ulong state)
    {
        public ulong Next()
        {
            state += 0x9E3779B97F4A7C15UL;
            ulong z = state;
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
            return z ^ (z >> 31);
        }
    }

    private sealed class SeedScope(SeedStream? previous) : IDisposable
    {
        private bool _disposed;

        public void Dispose()
        {
            if (_disposed)
                return;
            _disposed = true;
            t_seeds = previous;
        }
    }

    /// <summary>Fills a contiguous float32 CPU tensor with the mask of <paramref name="seed"/>.</summary>
    internal static void Fill(Tensor mask, double probability, ulong seed)
    {
        int count = (int)mask.numel();
        // Dropped when the hash is below p·2³² (p < 1, so the threshold fits).
        uint threshold = (uint)Math.Min(uint.MaxValue, Math.Round(probability * 4294967296.0));
        float scale = (float)(1.0 / (1.0 - probability));
        int chunks = (count + ChunkElements - 1) / ChunkElements;
        var parallel = new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, get_num_threads()) };
        Parallel.For(0, chunks, parallel, chunk =>
        {
            int offset = chunk * ChunkElements;
            var values = MemoryMarshal.Cast<byte, float>(mask.bytes).Slice(offset, Math.Min(ChunkElements, count - offset));
            FillRange(values, (uint)offset, threshold, scale, seed);
        });
    }

    /// <summary>Mask values for elements <paramref name="first"/>, <paramref name="first"/> + 1, … of a tensor.</summary>
    internal static void FillRange(Span<float> values, uint first, uint threshold, float scale, ulong seed)
    {
        uint low = (uint)seed, high = (uint)(seed >> 32);
        int done = 0;
        if (Vector.IsHardwareAccelerated)
        {
            var vectors = MemoryMarshal.Cast<float, Vector<float>>(values);
            Span<uint> lanes = stackalloc uint[Vector<uint>.Count];
            for (int i = 0; i < lanes.Length; i++)
                lanes[i] = first + (uint)i;
            var counter = new Vector<uint>(lanes);
            var step = new Vector<uint>((uint)Vector<uint>.Count);
            var golden = new Vector<uint>(0x9E3779B9u);
            var lowSeed = new Vector<uint>(low);
            var highSeed = new Vector<uint>(high);
            var limit = new Vector<uint>(threshold);
            var kept = new Vector<float>(scale);
            for (int i = 0; i < vectors.Length; i++)
            {
                var hash = Finalise(Finalise(counter * golden + lowSeed) ^ highSeed);
                var keep = Vector.GreaterThanOrEqual(hash, limit);
                vectors[i] = Vector.ConditionalSelect(Vector.AsVectorSingle(keep), kept, Vector<float>.Zero);
                counter += step;
            }

            done = vectors.Length * Vector<float>.Count;
        }

        for (int i = done; i < values.Length; i++)
        {
            uint hash = Finalise(Finalise((first + (uint)i) * 0x9E3779B9u + low) ^ high);
            values[i] = hash >= threshold ? scale : 0f;
        }
    }

    // murmur3's fmix32: every input bit flips each output bit with probability about 1/2.
    private static Vector<uint> Finalise(Vector<uint> h)
    {
        h ^= Vector.ShiftRightLogical(h, 16);
        h *= new Vector<uint>(0x85EBCA6Bu);
        h ^= Vector.ShiftRightLogical(h, 13);
        h *= new Vector<uint>(0xC2B2AE35u);
        return h ^ Vector.ShiftRightLogical(h, 16);
    }

    private static uint Finalise(uint h)
    {
        h ^= h >> 16;
        h *= 0x85EBCA6Bu;
        h ^= h >> 13;
        h *= 0xC2B2AE35u;
        return h ^ (h >> 16);
    }
}
