using System.Diagnostics;
using TorchSharp;
using Transformer.MLNet.Network.Kernels;
using Transformer.MLNet.Network.Modules;
using Transformer.MLNet.Network.Training;
using static TorchSharp.torch;

namespace Transformer.MLNet.Network.Tests.Kernels;

/// <summary>
/// The vectorised float32 product and the projection built on it, against libtorch's matmul and
/// <c>nn.functional.linear</c> (values and gradients). On CPUs without 512-bit vectors .NET runs the same kernel in
/// software, so these tests check the arithmetic everywhere.
/// </summary>
[TestClass]
public sealed unsafe class GemmTests
{
    [TestCleanup]
    public void ResetChoice() => Projection.Override = null;

    // op(X) of a (rows × columns) result from a row-major tensor: transposed operands are stored (columns × rows).
    private static Tensor Stored(int rows, int columns, bool transposed, Generator generator) =>
        transposed ? randn([columns, rows], generator: generator) : randn([rows, columns], generator: generator);

    private static Tensor Op(Tensor stored, bool transposed) => transposed ? stored.t() : stored;

    [TestMethod]
    public void Products_of_every_layout_and_edge_size_match_libtorch_matmul()
    {
        using var scope = NewDisposeScope();
        var generator = new Generator(3);
        // Sizes around the micro-tile (12 × 32), the 16-step transposes and the 192-step blocks, and one beyond two blocks.
        int[] ms = [1, 11, 12, 13, 37], ns = [1, 31, 32, 33, 70], ks = [1, 15, 16, 17, 193, 400];
        int cases = 0;
        foreach (int m in ms)
            foreach (int n in ns)
                foreach (int k in ks)
                    foreach (bool ta in new[] { false, true })
                        foreach (bool tb in new[] { false, true })
                        {
                            using var caseScope = NewDisposeScope();
                            var a = Stored(m, k, ta, generator);
                            var b = Stored(k, n, tb, generator);
                            var bias = randn([n], generator: generator);
                            var expected = Op(a, ta).matmul(Op(b, tb)) + bias;
                            var c = empty(m, n);
                            int threads = (m + n + k) % 2 + 1;
                            Gemm.Multiply(m, n, k, new Gemm.Operand(TensorMemory.Floats(a), ta ? m : k, ta),
                                new Gemm.Operand(TensorMemory.Floats(b), tb ? k : n, tb), TensorMemory.Floats(c), n,
                                TensorMemory.Floats(bias), accumulate: false, threads);
                            AssertClose(expected, c, k, $"m={m} n={n} k={k} transposedA={ta} transposedB={tb} threads={threads}");
                            cases++;
                        }
        Console.WriteLine($"gemm: {cases} products match libtorch");
    }

    [TestMethod]
    public void Products_larger_than_one_packing_block_match_libtorch_matmul()
    {
        using var scope = NewDisposeScope();
        var generator = new Generator(4);
        // More rows than one A block (MC), more columns than one B block (NC), more steps than one KC block, with edges.
        int m = Gemm.MC + 17, n = Gemm.NC + 45, k = Gemm.KC + 9;
        foreach (bool tb in new[] { false, true })
        {
            using var caseScope = NewDisposeScope();
            var a = Stored(m, k, false, generator);
            var b = Stored(k, n, tb, generator);
            var bias = randn([n], generator: generator);
            var expected = a.matmul(Op(b, tb)) + bias;
            var c = empty(m, n);
            Gemm.Multiply(m, n, k, new Gemm.Operand(TensorMemory.Floats(a), k, false),
                new Gemm.Operand(TensorMemory.Floats(b), tb ? k : n, tb), TensorMemory.Floats(c), n,
                TensorMemory.Floats(bias), accumulate: false, threads: 2);
            AssertClose(expected, c, k, $"m={m} n={n} k={k} transposedB={tb}");
        }
    }

    [TestMethod]
    public void Accumulating_into_a_strided_result_adds_the_product_and_leaves_the_padding_alone()
    {
        using var scope = NewDisposeScope();
        var generator = new Generator(5);
        int m = 29, n = 45, k = 210, ldc = 50, lda = 230;
        // A is a (29 × 210) window of a (29 × 230) matrix: its row stride is not its width.
        var wide = randn([m, lda], generator: generator);
        var a = wide.narrow(1, 0, k);
        var b = randn([k, n], generator: generator);
        var c = randn([m, ldc], generator: generator);
        var before = c.clone();
        var expected = before.narrow(1, 0, n) + a.matmul(b);
        foreach (int threads in new[] { 1, 2 })
        {
            c.copy_(before);
            Gemm.Multiply(m, n, k, new Gemm.Operand(TensorMemory.Floats(wide), lda, false),
                new Gemm.Operand(TensorMemory.Floats(b), n, false), TensorMemory.Floats(c), ldc, null, accumulate: true, threads);
            AssertClose(expected, c.narrow(1, 0, n), k, $"threads={threads}");
            Assert.IsTrue(c.narrow(1, n, ldc - n).eq(before.narrow(1, n, ldc - n)).all().item<bool>(), "columns past n changed");
        }
    }

    [TestMethod]
    public void The_speed_measurements_operands_leave_the_global_generator_alone()
    {
        // The measurement runs at the first product of a process, often inside a seeded training run: drawing its
        // operands from the global generator shifted that run's dropout masks, so the first run differed from the next.
        using var scope = NewDisposeScope();
        torch.random.manual_seed(5);
        var expected = rand(16);
        torch.random.manual_seed(5);
        var (x, weight, bias) = Projection.MeasurementOperands(8, 4, 3);
        var actual = rand(16);
        CollectionAssert.AreEqual(expected.data<float>().ToArray(), actual.data<float>().ToArray(), "the global generator moved");
        CollectionAssert.AreEqual(new long[] { 8, 4 }, x.shape);
        CollectionAssert.AreEqual(new long[] { 3, 4 }, weight.shape);
        CollectionAssert.AreEqual(new long[] { 3 }, bias.shape);
        CollectionAssert.AreEqual(x.data<float>().ToArray(), Projection.MeasurementOperands(8, 4, 3).X.data<float>().ToArray(),
            "the operands are the same on every call");
    }

    [TestMethod]
    public void Empty_inner_dimension_gives_the_bias()
    {
        using var scope = NewDisposeScope();
        var bias = arange(5, ScalarType.Float32);
        var c = full(3, 5, float.NaN);
        Gemm.Multiply(3, 5, 0, new Gemm.Operand(null, 0, false), new Gemm.Operand(null, 5, false),
            TensorMemory.Floats(c), 5, TensorMemory.Floats(bias), accumulate: false, threads: 1);
        Assert.IsTrue(c.eq(bias.expand(3, 5)).all().item<bool>());
    }

    [TestMethod]
    public void Projection_values_and_gradients_match_functional_linear()
    {
        using var scope = NewDisposeScope();
        Seeding.Apply(7);
        foreach (bool withBias in new[] { true, false })
        {
            // (B, T, in) input, weights and bias that all need gradients, and an upstream gradient of every sign.
            var x = randn(3, 17, 40);
            var weight = randn(70, 40);
            var bias = withBias ? randn(70) : null;
            var upstream = randn(3, 17, 70);

            (Tensor Y, Tensor Dx, Tensor Dw, Tensor? Db) Run(bool gemm)
            {
                Projection.Override = gemm;
                var xi = x.clone().requires_grad_();
                var wi = weight.clone().requires_grad_();
                var bi = bias?.clone().requires_grad_();
                var y = Projection.Linear(xi, wi, bi);
                y.backward([upstream]);
                return (y.detach(), xi.grad!, wi.grad!, bi?.grad);
            }

            var reference = Run(gemm: false);
            var ours = Run(gemm: true);
            AssertClose(reference.Y, ours.Y, 40, $"output, bias={withBias}");
            AssertClose(reference.Dx, ours.Dx, 70, $"input gradient, bias={withBias}");
            AssertClose(reference.Dw, ours.Dw, 51, $"weight gradient, bias={withBias}");
            if (withBias)
                AssertClose(reference.Db!, ours.Db!, 51, "bias gradient");
        }
    }

    [TestMethod]
    public void Projection_output_takes_in_place_changes_and_frozen_inputs_get_no_gradient()
    {
        using var scope = NewDisposeScope();
        Seeding.Apply(9);
        Projection.Override = true;
        var x = randn(64, 32);                                       // no gradient wanted for the input
        var weight = randn(48, 32).requires_grad_();
        var y = Projection.Linear(x, weight, null);
        y.mul_(2).relu_();                                           // as dropout and activations do
        y.sum().backward();
        Assert.IsNull(x.grad);
        var expected = (x.matmul(weight.detach().t()) > 0).to_type(ScalarType.Float32).mul(2).t().matmul(x);
        AssertClose(expected, weight.grad!, 64, "weight gradient through in-place changes");
    }

    [TestMethod]
    public void An_encoder_layer_trains_to_the_same_outputs_and_gradients_with_either_product()
    {
        using var scope = NewDisposeScope();
        var config = new Configuration.TransformerConfig { ModelDim = 64, Heads = 4, FeedForwardDim = 256, Dropout = 0 };
        Seeding.Apply(11);
        var layer = new EncoderLayer(config);
        var x = randn(4, 23, 64);
        (Tensor Y, Tensor[] Gradients) Run(bool gemm)
        {
            Projection.Override = gemm;
            layer.zero_grad();
            var y = layer.forward(x, null);
            y.pow(2).sum().backward();
            return (y.detach(), layer.parameters().Select(p => p.grad!.clone()).ToArray());
        }

        var reference = Run(gemm: false);
        var ours = Run(gemm: true);
        AssertClose(reference.Y, ours.Y, 256, "layer output");
        for (int i = 0; i < reference.Gradients.Length; i++)
            AssertClose(reference.Gradients[i], ours.Gradients[i], 256 * 92, $"gradient {i}");
    }

    [TestMethod]
    public void Many_projections_with_gradients_leave_live_tensors_at_baseline()
    {
        Projection.Override = true;
        var weight = randn(96, 64).requires_grad_();
        var bias = randn(96).requires_grad_();
        void Step()
        {
            using var scope = NewDisposeScope();
            var x = randn(40, 64).requires_grad_();
            Projection.Linear(x, weight, bias).sum().backward();
            Projection.Linear(x, weight, bias).Dispose();
        }

        Step();
        weight.grad = null;
        bias.grad = null;
        GC.Collect();
        GC.WaitForPendingFinalizers();
        long before = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        for (int i = 0; i < 200; i++)
        {
            Step();
            weight.grad = null;
            bias.grad = null;
        }
        GC.Collect();
        GC.WaitForPendingFinalizers();
        Assert.AreEqual(before, DisposeScopeManager.Statistics.ThreadTotalLiveCount, "leaked tensors");
    }

    [TestMethod]
    public void Ineligible_operands_go_to_libtorch()
    {
        using var scope = NewDisposeScope();
        var x = randn(64, 32);
        Assert.IsTrue(Projection.Eligible(x, randn(48, 32), randn(48)));
        Assert.IsFalse(Projection.Eligible(x.to_type(ScalarType.BFloat16), randn(48, 32).to_type(ScalarType.BFloat16), null), "bfloat16");
        Assert.IsFalse(Projection.Eligible(x, randn(32, 48).t(), null), "non-contiguous weight");
        Assert.IsFalse(Projection.Eligible(randn(4, 32), randn(48, 32), null), "too few rows to pay for packing");
        Assert.IsFalse(Projection.Eligible(x, randn(48, 31), null), "mismatched widths (libtorch reports the error)");
    }

    // Elementwise: |ours − reference| ≤ 1e-5·√k·(1 + |reference|), float32 sums of k products in another order.
    /// <summary>Asserts a float32 product of inner dimension <paramref name="k"/> matches the reference to rounding.</summary>
    internal static void AssertClose(Tensor expected, Tensor actual, int k, string what)
    {
        using var scope = NewDisposeScope();
        var tolerance = expected.abs().add(1).mul(1e-5 * Math.Sqrt(Math.Max(1, k)));
        var excess = (actual - expected).abs() - tolerance;
        double worst = excess.max().item<float>();
        Assert.IsLessThanOrEqualTo(0.0, worst, $"{what}: worst excess over tolerance {worst:E2}");
        Assert.IsFalse(actual.isnan().any().item<bool>(), $"{what}: NaN");
    }
}
