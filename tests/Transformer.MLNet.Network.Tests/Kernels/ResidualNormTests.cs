using System.Runtime.Intrinsics.X86;
using TorchSharp;
using Transformer.MLNet.Network.Embeddings;
using Transformer.MLNet.Network.Kernels;
using Transformer.MLNet.Network.Pretrained;
using static TorchSharp.torch;

namespace Transformer.MLNet.Network.Tests.Kernels;

/// <summary>The inference residual sum and LayerNorm in one pass, against libtorch's <c>layer_norm(y + x)</c>.</summary>
[TestClass]
public sealed class ResidualNormTests
{
    [TestInitialize]
    public void RequireKernel()
    {
        if (!Avx2.IsSupported || !Fma.IsSupported)
            Assert.Inconclusive("This CPU has no AVX2/FMA: the residual-norm kernel is not used here.");
    }

    [TestCleanup]
    public void ResetChoice()
    {
        ResidualNorm.Override = null;
        PackedAttention.Override = null;
        set_num_threads(Environment.ProcessorCount);
    }

    [TestMethod]
    public void Float32_matches_layer_norm_of_the_sum_including_rows_far_from_zero()
    {
        using var inference = inference_mode();
        var generator = new Generator(4);
        foreach (var (shape, eps, offset) in new (long[], double, double)[]
        {
            ([3, 8], 1e-12, 0), ([2, 7, 384], 1e-12, 0), ([1000, 64], 1e-5, 0), ([5, 1024], 1e-6, 1000), ([1, 1, 16], 1e-5, -50),
        })
        {
            using var scope = NewDisposeScope();
            long width = shape[^1];
            var y = randn(shape, generator: generator) * 3 + offset;
            var x = randn(shape, generator: generator);
            var weight = randn([width], generator: generator);
            var bias = randn([width], generator: generator);
            var expected = nn.functional.layer_norm(y + x, [width], weight, bias, eps);
            Assert.IsTrue(ResidualNorm.Applies(y, x, weight, bias));
            var actual = ResidualNorm.AddNormInPlace(y, x, weight, bias, eps);
            Assert.AreSame(y, actual, "written over y");
            double error = (actual - expected).abs().max().item<float>();
            // float32 rounding of a standardised value times weights of a few units; rows offset by 1000 lose 3 digits
            // of the spread to the sum itself in libtorch and here alike.
            Assert.IsLessThanOrEqualTo(offset == 0 ? 5e-6 : 2e-3, error, $"[{string.Join(", ", shape)}], offset {offset}");
        }
    }

    [TestMethod]
    public void BFloat16_is_the_float32_norm_of_the_same_values_rounded_once()
    {
        using var inference = inference_mode();
        using var scope = NewDisposeScope();
        var generator = new Generator(6);
        var y = (randn([6, 11, 384], generator: generator) * 2).to(ScalarType.BFloat16);
        var x = randn([6, 11, 384], generator: generator).to(ScalarType.BFloat16);
        var weight = randn([384], generator: generator).to(ScalarType.BFloat16);
        var bias = randn([384], generator: generator).to(ScalarType.BFloat16);
        var expected = nn.functional.layer_norm(y.to(ScalarType.Float32) + x.to(ScalarType.Float32), [384],
            weight.to(ScalarType.Float32), bias.to(ScalarType.Float32), 1e-12);
        var libtorch = nn.functional.layer_norm(y + x, [384], weight, bias, 1e-12).to(ScalarType.Float32);
        var actual = ResidualNorm.AddNormInPlace(y, x, weight, bias, 1e-12).to(ScalarType.Float32);
        var excess = ((actual - expected).abs() - (expected.abs() * Math.Pow(2, -8) + 1e-5)).max().item<float>();
        Assert.IsLessThanOrEqualTo(0.0, excess, "an output is more than 2⁻⁸ relative from the float32 norm");
        double ours = (actual - expected).abs().max().item<float>(), theirs = (libtorch - expected).abs().max().item<float>();
        Assert.IsLessThanOrEqualTo(theirs, ours, $"ours {ours}, libtorch's bfloat16 sum then norm {theirs}");
    }

    [TestMethod]
    public void A_NaN_or_infinite_value_makes_its_row_NaN_as_in_libtorch()
    {
        using var inference = inference_mode();
        foreach (double value in new[] { double.NaN, double.PositiveInfinity })
        {
            using var scope = NewDisposeScope();
            var y = randn(3, 16);
            var x = randn(3, 16);
            x[1, 5] = tensor(value);
            var weight = randn(16);
            var bias = randn(16);
            var expected = nn.functional.layer_norm(y + x, [16], weight, bias, 1e-5);
            var actual = ResidualNorm.AddNormInPlace(y, x, weight, bias, 1e-5);
            Assert.IsTrue(expected.isnan().equal(actual.isnan()).all().item<bool>(), $"{value}");
            Assert.IsTrue(actual[1].isnan().all().item<bool>(), $"{value}: the damaged row");
            Assert.IsLessThanOrEqualTo(5e-6, (actual[0] - expected[0]).abs().max().item<float>());
        }
    }

    [TestMethod]
    public void Results_do_not_depend_on_the_thread_count()
    {
        using var inference = inference_mode();
        using var scope = NewDisposeScope();
        var generator = new Generator(2);
        var y = randn([1024, 384], generator: generator);   // above the one-thread limit
        var x = randn([1024, 384], generator: generator);
        var weight = randn([384], generator: generator);
        var bias = randn([384], generator: generator);
        set_num_threads(1);
        var one = ResidualNorm.AddNormInPlace(y.clone(), x, weight, bias, 1e-12);
        set_num_threads(Math.Max(2, Environment.ProcessorCount));
        var several = ResidualNorm.AddNormInPlace(y.clone(), x, weight, bias, 1e-12);
        Assert.IsTrue(one.bytes.SequenceEqual(several.bytes));
    }

    [TestMethod]
    public void Calls_it_cannot_take_are_refused()
    {
        using var scope = NewDisposeScope();
        var y = randn(4, 16);
        var x = randn(4, 16);
        var weight = ones(16);
        var bias = zeros(16);
        using (inference_mode())
        {
            Assert.IsTrue(ResidualNorm.Applies(y, x, weight, bias));
            Assert.IsFalse(ResidualNorm.Applies(y, randn(4, 8), weight, bias), "shapes differ");
            Assert.IsFalse(ResidualNorm.Applies(randn(4, 12), randn(4, 12), ones(12), zeros(12)), "width not a multiple of 8");
            Assert.IsFalse(ResidualNorm.Applies(y, x, null, null), "no affine weights");
            Assert.IsFalse(ResidualNorm.Applies(y, x.t().contiguous().t(), weight, bias), "x not contiguous");
            Assert.IsFalse(ResidualNorm.Applies(y, x.to(ScalarType.BFloat16), weight, bias), "mixed types");
            Assert.IsFalse(ResidualNorm.Applies(randn(2, ResidualNorm.MaxWidth + 8), randn(2, ResidualNorm.MaxWidth + 8),
                ones(ResidualNorm.MaxWidth + 8), zeros(ResidualNorm.MaxWidth + 8)), "too wide");
            Assert.ThrowsExactly<ArgumentException>(() => ResidualNorm.AddNormInPlace(y, randn(4, 8), weight, bias, 1e-5));
        }

        using var trained = ones(16).requires_grad_(true);
        Assert.IsFalse(ResidualNorm.Applies(y, x, trained, bias), "a weight that needs gradients");
        using (no_grad())
            Assert.IsTrue(ResidualNorm.Applies(y, x, trained, bias));
    }

    [TestMethod]
    public void MiniLM_embeddings_are_the_same_with_and_without_the_kernels()
    {
        using var bert = PretrainedBert.LoadMiniLm();
        string[] texts = ["A man is playing a guitar.", "", "Der schnelle braune Fuchs springt über den faulen Hund.", "ok ok ok"];
        foreach (bool bfloat16 in new[] { false, true })
        {
            using var encoder = SentenceEncoder.FromPretrained(bert, new SentenceEncoderOptions { BatchSize = 3, Threads = 1, UseBFloat16 = bfloat16 }, CPU);
            ResidualNorm.Override = false;
            PackedAttention.Override = false;
            var before = encoder.Encode(texts);
            ResidualNorm.Override = null;
            PackedAttention.Override = null;
            long calls = ResidualNorm.Calls;
            var after = encoder.Encode(texts);
            // Two sums in each of the 6 layers, for each of the two batches.
            Assert.IsGreaterThanOrEqualTo(calls + 2 * 6 * 2, ResidualNorm.Calls);
            for (int i = 0; i < texts.Length; i++)
                Assert.IsGreaterThan(bfloat16 ? 0.999 : 0.9999999, EmbeddingSimilarity.Cosine(before[i], after[i]), $"text {i}, bfloat16 {bfloat16}");
        }
    }
}
