using TorchSharp;
using Transformer.MLNet.Examples.Data;
using Transformer.MLNet.Network.Configuration;
using Transformer.MLNet.Network.Embeddings;
using Transformer.MLNet.Network.Modules;
using Transformer.MLNet.Network.Tests.Pretrained;
using Transformer.MLNet.Network.Training;
using static TorchSharp.torch;

namespace Transformer.MLNet.Network.Tests.Cuda;

/// <summary>
/// The same computation on CUDA and on the CPU gives the same numbers. Inconclusive (skipped) where CUDA is not
/// available, e.g. with the TorchSharp-cpu package; run on a GPU host by scripts/gpu/run.sh.
/// </summary>
[TestClass]
[TestCategory("Cuda")]
public sealed class CudaParityTests
{
    private static readonly TransformerConfig LayerConfig = TransformerConfig.Base with { ModelDim = 128, Heads = 4, FeedForwardDim = 512, Dropout = 0 };

    private static Device RequireCuda()
    {
        if (!cuda.is_available())
            Assert.Inconclusive("CUDA is not available to TorchSharp in this process (TorchSharp-cpu, or no GPU).");
        return CUDA;
    }

    [TestMethod]
    public void Encoder_layer_forward_and_backward_on_cuda_match_cpu()
    {
        var gpu = RequireCuda();
        using var scope = NewDisposeScope();
        Seeding.Apply(21);
        var onCpu = new EncoderLayer(LayerConfig);
        Seeding.Apply(21);
        var onGpu = new EncoderLayer(LayerConfig);
        onGpu.to(gpu);
        var input = randn(3, 17, LayerConfig.ModelDim);                                 // (B, T, D)
        var padding = arange(17).unsqueeze(0) >= tensor(new long[] { 17, 9, 1 }).unsqueeze(1);     // (B, T), true at padding
        var mask = ScaledDotProductAttention.KeyMask(padding);

        var cpuOutput = onCpu.forward(input, mask);
        var gpuOutput = onGpu.forward(input.to(gpu), mask.to(gpu));
        cpuOutput.pow(2).sum().backward();
        gpuOutput.pow(2).sum().backward();

        Assert.IsTrue(cpuOutput.allclose(gpuOutput.cpu(), rtol: 1e-4, atol: 1e-4), "forward outputs differ");
        var gpuGradients = onGpu.named_parameters().ToDictionary(p => p.name, p => p.parameter.grad!.cpu());
        foreach (var (name, parameter) in onCpu.named_parameters())
            Assert.IsTrue(parameter.grad!.allclose(gpuGradients[name], rtol: 1e-3, atol: 1e-3), $"gradient of {name} differs");
    }

    [TestMethod]
    public void One_AdamW_step_on_cuda_leaves_the_weights_it_leaves_on_cpu()
    {
        var gpu = RequireCuda();
        Seeding.Apply(22);
        using var onCpu = new EncoderLayer(LayerConfig);
        Seeding.Apply(22);
        using var onGpu = new EncoderLayer(LayerConfig);
        onGpu.to(gpu);
        var options = new TrainingOptions { WarmupSteps = 0, Decay = LearningRateDecay.Constant };
        using var cpuUpdater = new ParameterUpdater(onCpu, options);
        using var gpuUpdater = new ParameterUpdater(onGpu, options);
        using (var scope = NewDisposeScope())
        {
            var input = randn(2, 11, LayerConfig.ModelDim);
            cpuUpdater.Backward(onCpu.forward(input, null).pow(2).mean());
            gpuUpdater.Backward(onGpu.forward(input.to(gpu), null).pow(2).mean());
        }

        using var after = NewDisposeScope();
        var gpuWeights = onGpu.named_parameters().ToDictionary(p => p.name, p => p.parameter.cpu());
        foreach (var (name, parameter) in onCpu.named_parameters())
            Assert.IsTrue(parameter.allclose(gpuWeights[name], rtol: 1e-4, atol: 1e-5), $"{name} differs after the step");
    }

    [TestMethod]
    public void Sentence_embeddings_on_cuda_match_cpu_on_sts_sentences()
    {
        var gpu = RequireCuda();
        var sentences = StsBenchmark.Read("test").Take(32).SelectMany(p => new[] { p.Sentence1, p.Sentence2 }).ToList();
        using var onCpu = SentenceEncoder.FromPretrained(MiniLmFixture.Model, new SentenceEncoderOptions { BatchSize = 16 });
        using var onGpu = SentenceEncoder.FromPretrained(MiniLmFixture.Model, new SentenceEncoderOptions { BatchSize = 16 }, gpu);

        var expected = onCpu.Encode(sentences);
        var actual = onGpu.Encode(sentences);

        Assert.HasCount(sentences.Count, actual);
        for (int i = 0; i < sentences.Count; i++)
            Assert.IsGreaterThan(0.99999, EmbeddingSimilarity.Cosine(expected[i], actual[i]), sentences[i]);
    }
}
