using TorchSharp;
using TorchSharp.Modules;
using Transformer.MLNet.Network.Training;
using static TorchSharp.torch;

namespace Transformer.MLNet.Network.Tests.Training;

/// <summary>The fused CPU step against TorchSharp's own AdamW, the reference implementation, on the same inputs.</summary>
[TestClass]
public sealed class FusedAdamWTests
{
    // Sizes that exercise the vector body, the scalar tail (odd lengths), several parallel chunks (> 65,536 elements)
    // and a parameter without a gradient (skipped by both).
    private static readonly long[][] Shapes = [[300, 257], [70_001], [13], [384], [7, 5]];

    private static List<Parameter> NewParameters(int seed)
    {
        Seeding.Apply(seed);
        return Shapes.Select(s => nn.Parameter(randn(s))).ToList();
    }

    private static (AdamW.ParamGroup Decayed, AdamW.ParamGroup Plain) Groups(List<Parameter> parameters, double lr) =>
        (new AdamW.ParamGroup(parameters.Where(p => p.dim() >= 2), lr, 0.9, 0.999, 1e-8, 0.01, false, false),
         new AdamW.ParamGroup(parameters.Where(p => p.dim() < 2), lr, 0.9, 0.999, 1e-8, 0.0, false, false));

    /// <summary>The same parameters twice, under TorchSharp's AdamW and under the fused one (decay 0.01 except on vectors).</summary>
    private static (List<Parameter> Reference, List<Parameter> Fused, AdamW ReferenceOptimizer, Network.Training.Fused.AdamW FusedOptimizer) Pair(int seed, double lr)
    {
        var reference = NewParameters(seed);
        var fused = NewParameters(seed);
        var (rd, rp) = Groups(reference, lr);
        var (fd, fp) = Groups(fused, lr);
        return (reference, fused, optim.AdamW([rd, rp], lr), new Network.Training.Fused.AdamW([fd, fp], lr, 0.9, 0.999, 1e-8, 0.01));
    }

    [TestMethod]
    public void Forty_steps_match_TorchSharp_AdamW_to_float_rounding_and_leave_equal_state()
    {
        using var scope = NewDisposeScope();
        var (reference, fused, referenceOptimizer, fusedOptimizer) = Pair(5, 3e-3);
        using var disposeReference = referenceOptimizer;
        using var disposeFused = fusedOptimizer;

        var generator = new Random(11);
        for (int step = 0; step < 40; step++)
        {
            using var stepScope = NewDisposeScope();
            for (int i = 0; i < Shapes.Length; i++)
            {
                if (i == 3)
                    continue;                                  // never gets a gradient
                // Gradients of every scale, including exact zeros and steps where the learning rate changes.
                var gradient = randn(Shapes[i], generator: new Generator((ulong)generator.Next())) * Math.Pow(10, generator.Next(-6, 2));
                gradient.masked_fill_(gradient.abs() < 0.05, 0);
                reference[i].grad = gradient.clone();
                fused[i].grad = gradient.clone();
            }

            double lr = step < 20 ? 3e-3 : 1e-3;
            foreach (var group in referenceOptimizer.ParamGroups)
                group.LearningRate = lr;
            foreach (var group in fusedOptimizer.ParamGroups)
                group.LearningRate = lr;
            referenceOptimizer.step();
            fusedOptimizer.step();
            Assert.IsTrue(fusedOptimizer.LastStepFused, "CPU float32 parameters take the fused step");
        }

        for (int i = 0; i < Shapes.Length; i++)
        {
            var expected = reference[i].data<float>().ToArray();
            var actual = fused[i].data<float>().ToArray();
            double worst = 0;
            for (int j = 0; j < expected.Length; j++)
                worst = Math.Max(worst, Math.Abs(expected[j] - actual[j]) / Math.Max(1e-3, Math.Abs(expected[j])));
            Assert.IsLessThan(2e-5, worst, $"parameter {i} ({string.Join('x', Shapes[i])}): worst relative difference {worst}");
        }

        Assert.IsTrue(reference[3].eq(NewParameters(5)[3]).all().ToBoolean(), "a parameter without gradient is left alone");
        Assert.IsTrue(fused[3].eq(reference[3]).all().ToBoolean());

        // The moments are the base class's own state: saved from the fused optimizer, they load into TorchSharp's
        // (and the other way round: optimizer states saved before the fused step existed still resume).
        string path = Path.Combine(Path.GetTempPath(), $"fused-adamw-{Guid.NewGuid():N}.bin");
        try
        {
            using (var file = File.Create(path))
            using (var writer = new BinaryWriter(file))
                fusedOptimizer.save_state_dict(writer);
            var (cd, cp) = Groups(NewParameters(6), 1e-3);
            using var copy = optim.AdamW([cd, cp], 1e-3);
            using (var file = File.OpenRead(path))
            using (var reader = new BinaryReader(file))
                copy.load_state_dict(reader);
            // Moments to float32 rounding: within 1e-5 of each moment's largest magnitude (40 steps of rounding).
            foreach (var (loaded, expected) in copy.state_dict().State.Cast<AdamW.State>().Zip(referenceOptimizer.state_dict().State.Cast<AdamW.State>()))
            {
                Assert.AreEqual(expected.step, loaded.step);
                foreach (var (x, y) in new[] { (loaded.exp_avg, expected.exp_avg), (loaded.exp_avg_sq, expected.exp_avg_sq) })
                    Assert.IsLessThanOrEqualTo(1e-5 * y.abs().max().ToDouble(), (x - y).abs().max().ToDouble());
            }

            using (var file = File.Create(path))
            using (var writer = new BinaryWriter(file))
                referenceOptimizer.save_state_dict(writer);
            using (var file = File.OpenRead(path))
            using (var reader = new BinaryReader(file))
                fusedOptimizer.load_state_dict(reader);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [TestMethod]
    public void Non_float32_parameters_take_the_base_step_with_the_same_result()
    {
        using var scope = NewDisposeScope();
        var reference = nn.Parameter(randn(64, 8, dtype: ScalarType.Float64));
        var fused = nn.Parameter(reference.detach().clone());
        using var referenceOptimizer = optim.AdamW([reference], 1e-2, weight_decay: 0.1);
        using var fusedOptimizer = new Network.Training.Fused.AdamW([new AdamW.ParamGroup([fused], 1e-2, 0.9, 0.999, 1e-8, 0.1, false, false)], 1e-2, 0.9, 0.999, 1e-8, 0.1);
        for (int step = 0; step < 5; step++)
        {
            var gradient = randn(64, 8, dtype: ScalarType.Float64);
            reference.grad = gradient.clone();
            fused.grad = gradient.clone();
            referenceOptimizer.step();
            fusedOptimizer.step();
            Assert.IsFalse(fusedOptimizer.LastStepFused);
        }

        Assert.IsTrue(reference.eq(fused).all().ToBoolean());
    }

    [TestMethod]
    public void Clipping_folded_into_the_step_matches_libtorch_clip_grad_norm_then_AdamW()
    {
        using var scope = NewDisposeScope();
        var (reference, fused, referenceOptimizer, fusedOptimizer) = Pair(7, 1e-3);
        using var disposeReference = referenceOptimizer;
        using var disposeFused = fusedOptimizer;
        var generator = new Random(3);
        int clipped = 0;
        for (int step = 0; step < 20; step++)
        {
            using var stepScope = NewDisposeScope();
            for (int i = 0; i < Shapes.Length; i++)
            {
                if (i == 3)
                    continue;
                var gradient = randn(Shapes[i], generator: new Generator((ulong)generator.Next())) * Math.Pow(10, generator.Next(-4, 1));
                reference[i].grad = gradient.clone();
                fused[i].grad = gradient.clone();
            }

            const double maxNorm = 20;
            double expectedNorm = nn.utils.clip_grad_norm_(reference, maxNorm);
            double norm = Network.Training.Fused.GradientNorm.Compute(fused);
            Assert.AreEqual(expectedNorm, norm, 1e-6 * expectedNorm, $"step {step}");
            float coefficient = (float)(maxNorm / (norm + 1e-6));
            if (coefficient < 1)
            {
                fusedOptimizer.GradientScale = coefficient;
                clipped++;
            }

            referenceOptimizer.step();
            fusedOptimizer.step();
            Assert.IsTrue(fusedOptimizer.LastStepFused);
            Assert.AreEqual(1f, fusedOptimizer.GradientScale, "each step resets the scale");
        }

        Assert.IsGreaterThan(5, clipped, "the gradients' scales make clipping act on some steps and not on others");
        Assert.IsLessThan(20, clipped);
        for (int i = 0; i < Shapes.Length; i++)
        {
            double difference = (reference[i] - fused[i]).abs().max().ToDouble();
            Assert.IsLessThan(1e-5 * Math.Max(1, reference[i].abs().max().ToDouble()), difference, $"parameter {i}");
        }

        // The base step (float64 here) gets its gradients scaled in place first.
        var reference64 = nn.Parameter(randn(64, 8, dtype: ScalarType.Float64));
        var fused64 = nn.Parameter(reference64.detach().clone());
        using var base64 = optim.AdamW([reference64], 1e-2, weight_decay: 0.01);
        using var fused64Optimizer = new Network.Training.Fused.AdamW([new AdamW.ParamGroup([fused64], 1e-2, 0.9, 0.999, 1e-8, 0.01, false, false)], 1e-2, 0.9, 0.999, 1e-8, 0.01);
        var gradient64 = randn(64, 8, dtype: ScalarType.Float64) * 10;
        reference64.grad = gradient64 * 0.25f;
        fused64.grad = gradient64.clone();
        fused64Optimizer.GradientScale = 0.25f;
        base64.step();
        fused64Optimizer.step();
        Assert.IsFalse(fused64Optimizer.LastStepFused);
        Assert.IsLessThan(1e-12, (reference64 - fused64).abs().max().ToDouble());
        Assert.AreEqual(Math.Sqrt(gradient64.square().sum().ToDouble()) * 0.25, Network.Training.Fused.GradientNorm.Compute([fused64]), 1e-9);
    }

    [TestMethod]
    public void Bfloat16_rounding_matches_libtorch_bit_for_bit()
    {
        using var scope = NewDisposeScope();
        Seeding.Apply(2);
        // Normal values of every scale, exact ties (a 1 followed by zeros in the dropped half, odd and even kept halves),
        // infinities and a NaN; lengths with a vector body and a scalar tail.
        var values = (randn(5003) * exp(randn(5003) * 10)).data<float>().ToArray().ToList();
        foreach (uint bits in new uint[] { 0x3F808000, 0x3F818000, 0xBF808000, 0x3F80C000, 0x7F7FFFFF })
            values.Add(BitConverter.UInt32BitsToSingle(bits));
        values.AddRange([float.PositiveInfinity, float.NegativeInfinity, float.NaN, 0f, -0f]);
        var source = values.ToArray();
        var expected = MemoryMarshalBits(tensor(source).to(ScalarType.BFloat16));
        var actual = new ushort[source.Length];
        Network.Training.Fused.BFloat16Bits.Round(source, actual);
        for (int i = 0; i < source.Length; i++)
        {
            if (float.IsNaN(source[i]))
            {
                Assert.IsTrue((actual[i] & 0x7F80) == 0x7F80 && (actual[i] & 0x7F) != 0, "NaN stays NaN");   // libtorch: 0xFFFF vectorised, 0x7FC0 scalar
                continue;
            }

            Assert.AreEqual(expected[i], actual[i], $"value {i} ({BitConverter.SingleToUInt32Bits(source[i]):X8}): libtorch {expected[i]:X4}, ours {actual[i]:X4}");
        }

        var widened = new float[actual.Length];
        Network.Training.Fused.BFloat16Bits.Widen(actual, widened);
        var reference = tensor(source).to(ScalarType.BFloat16).to(ScalarType.Float32).data<float>().ToArray();
        for (int i = 0; i < widened.Length; i++)
            Assert.IsTrue(widened[i].Equals(reference[i]), $"value {i}: {widened[i]} against {reference[i]}");   // float.Equals: NaN equals NaN
    }

    private static ushort[] MemoryMarshalBits(Tensor bfloat16) =>
        System.Runtime.InteropServices.MemoryMarshal.Cast<byte, ushort>(bfloat16.bytes).ToArray();

    [TestMethod]
    public void A_step_on_bfloat16_copies_equals_converting_the_gradients_stepping_and_copying_back()
    {
        using var scope = NewDisposeScope();
        var (reference, fused, referenceOptimizer, fusedOptimizer) = Pair(9, 2e-3);
        using var disposeReference = referenceOptimizer;
        using var disposeFused = fusedOptimizer;
        var referenceCopies = reference.Select(p => nn.Parameter(p.detach().to(ScalarType.BFloat16))).ToList();
        var fusedCopies = fused.Select(p => nn.Parameter(p.detach().to(ScalarType.BFloat16))).ToList();
        var generator = new Random(5);
        for (int step = 0; step < 12; step++)
        {
            using var stepScope = NewDisposeScope();
            for (int i = 0; i < Shapes.Length; i++)
            {
                if (i == 3)
                    continue;
                var gradient = (randn(Shapes[i], generator: new Generator((ulong)generator.Next())) * Math.Pow(10, generator.Next(-3, 1))).to(ScalarType.BFloat16);
                referenceCopies[i].grad = gradient.clone();
                fusedCopies[i].grad = gradient.clone();
            }

            // The reference: float32 gradients from the copies, TorchSharp's step (clipped on odd steps), copies rounded back.
            float scale = step % 2 == 1 ? 0.5f : 1f;
            for (int i = 0; i < Shapes.Length; i++)
                reference[i].grad = referenceCopies[i].grad is { } g ? g.to(ScalarType.Float32) * scale : null;
            referenceOptimizer.step();
            using (no_grad())
            {
                for (int i = 0; i < Shapes.Length; i++)
                    referenceCopies[i].copy_(reference[i]);
            }

            fusedOptimizer.GradientScale = scale;
            fusedOptimizer.BFloat16Copies = fused.Zip(fusedCopies).ToDictionary(p => p.First.Handle, p => p.Second);
            fusedOptimizer.step();
            Assert.IsTrue(fusedOptimizer.LastStepFused);
            Assert.IsNull(fusedOptimizer.BFloat16Copies, "each step resets the copies");
        }

        for (int i = 0; i < Shapes.Length; i++)
        {
            double difference = (reference[i] - fused[i]).abs().max().ToDouble();
            Assert.IsLessThan(1e-5 * Math.Max(1, reference[i].abs().max().ToDouble()), difference, $"master {i}");
            Assert.IsNull(fused[i].grad, "the float32 masters never needed gradients of their own");
            var expectedCopy = fused[i].detach().to(ScalarType.BFloat16);
            CollectionAssert.AreEqual(MemoryMarshalBits(expectedCopy), MemoryMarshalBits(fusedCopies[i]), $"copy {i} is its master rounded");
        }
    }

    [TestMethod]
    public void Bfloat16_copies_of_parameters_the_fused_step_cannot_take_go_through_the_base_step()
    {
        using var scope = NewDisposeScope();
        var master = nn.Parameter(randn(64, 8, dtype: ScalarType.Float64));
        var copy = nn.Parameter(master.detach().to(ScalarType.BFloat16));
        var reference = nn.Parameter(master.detach().clone());
        using var fusedOptimizer = new Network.Training.Fused.AdamW([new AdamW.ParamGroup([master], 1e-2, 0.9, 0.999, 1e-8, 0.01, false, false)], 1e-2, 0.9, 0.999, 1e-8, 0.01);
        using var referenceOptimizer = optim.AdamW([reference], 1e-2, weight_decay: 0.01);
        var gradient = randn(64, 8).to(ScalarType.BFloat16);
        copy.grad = gradient;
        reference.grad = gradient.to(ScalarType.Float64) * 0.5;
        fusedOptimizer.BFloat16Copies = new Dictionary<IntPtr, Parameter> { [master.Handle] = copy };
        fusedOptimizer.GradientScale = 0.5f;
        fusedOptimizer.step();
        referenceOptimizer.step();
        Assert.IsFalse(fusedOptimizer.LastStepFused);
        Assert.IsLessThan(1e-12, (reference - master).abs().max().ToDouble());
        Assert.IsTrue(copy.eq(master.detach().to(ScalarType.BFloat16)).all().ToBoolean(), "the copy gets the updated weights");
    }

    [TestMethod]
    public void The_trainers_optimizer_is_the_fused_one()
    {
        using var scope = NewDisposeScope();
        var model = nn.Linear(5, 3);
        using var optimizer = OptimizerFactory.AdamW(model.parameters(), new TrainingOptions());
        Assert.IsInstanceOfType<Network.Training.Fused.AdamW>(optimizer);
    }
}
