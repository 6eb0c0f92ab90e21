using TorchSharp;
using Transformer.MLNet.Network.Configuration;
using Transformer.MLNet.Network.Modules;
using Transformer.MLNet.Network.Training;
using static TorchSharp.torch;

namespace Transformer.MLNet.Network.Tests.Modules;

[TestClass]
public sealed class ModuleTests
{
    [TestMethod]
    public void Sinusoidal_encoding_follows_the_papers_formula_from_any_offset()
    {
        using var scope = NewDisposeScope();
        var encoding = new SinusoidalPositionalEncoding(64, 16);
        var added = encoding.call(zeros(1, 5, 16), 10);                       // positions 10..14
        var values = added.data<float>().ToArray();
        for (int t = 0; t < 5; t++)
        {
            for (int i = 0; i < 8; i++)
            {
                double angle = (10 + t) / Math.Pow(10000, 2.0 * i / 16);
                Assert.AreEqual(Math.Sin(angle), values[t * 16 + 2 * i], 1e-5, $"PE({10 + t}, {2 * i})");
                Assert.AreEqual(Math.Cos(angle), values[t * 16 + 2 * i + 1], 1e-5, $"PE({10 + t}, {2 * i + 1})");
            }
        }

        Assert.AreEqual(0L, encoding.parameters().Count(), "the table is fixed, not learned");
        var error = Assert.ThrowsExactly<ArgumentException>(() => encoding.call(zeros(1, 5, 16), 60));
        StringAssert.Contains(error.Message, "MaxPositions = 64");
    }

    [TestMethod]
    public void Learned_encoding_adds_the_rows_of_its_positions()
    {
        using var scope = NewDisposeScope();
        Seeding.Apply(1);
        var encoding = new LearnedPositionalEncoding(32, 8, 0.02);
        var table = encoding.parameters().Single();
        var added = encoding.call(zeros(2, 3, 8), 4);
        Assert.AreEqual(0.0, (added[0] - table[4..7]).abs().max().ToDouble());
        Assert.AreEqual(0.0, (added[1] - table[4..7]).abs().max().ToDouble());
    }

    [TestMethod]
    [DataRow(false, 1.0 / 16)]   // d_model 256 without the √d_model factor: both tables N(0, 1/√256)
    [DataRow(true, 1.0)]         // with it, tokens reach unit variance after scaling; positions start there too
    public void Learned_positions_start_at_the_scale_of_the_scaled_token_embeddings(bool scaleEmbeddings, double expected)
    {
        using var scope = NewDisposeScope();
        Seeding.Apply(4);
        var config = TransformerConfig.Tiny with
        {
            ModelDim = 256, Heads = 4, FeedForwardDim = 512, EncoderLayers = 0, DecoderLayers = 1, MaxPositions = 128,
            PositionalEncoding = PositionalEncodingKind.Learned, ScaleEmbeddings = scaleEmbeddings, VocabSize = 300,
        };
        using var model = new Network.Models.DecoderOnlyModel(config);
        var parameters = model.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        var positions = parameters.Single(p => p.Key.EndsWith("position_embeddings.weight", StringComparison.Ordinal)).Value;
        var tokens = parameters.Single(p => p.Key.EndsWith("tokens.weight", StringComparison.Ordinal)).Value;
        double tokenScale = tokens.std().ToDouble() * (scaleEmbeddings ? 16 : 1);
        // nn.Embedding's default N(0, 1) drowned the tokens' 1/16 at first: the first layer then saw mostly positions and
        // a character model stayed at its unigram loss for about 100 updates.
        Assert.AreEqual(expected, positions.std().ToDouble(), expected * 0.05, "position table spread");
        Assert.AreEqual(tokenScale, positions.std().ToDouble(), expected * 0.08, "positions vs tokens as the first layer sees them");
    }

    [TestMethod]
    public void Feed_forward_applies_relu_or_gelu_between_the_projections()
    {
        using var scope = NewDisposeScope();
        Seeding.Apply(2);
        var x = randn(2, 3, 8);
        foreach (var activation in new[] { Activation.Relu, Activation.Gelu })
        {
            var network = new FeedForward(8, 16, activation);
            var parameters = network.parameters().ToArray();                    // W1, b1, W2, b2
            var inner = x.matmul(parameters[0].t()) + parameters[1];
            var activated = activation == Activation.Relu ? inner.relu() : inner * 0.5 * (1 + (inner / Math.Sqrt(2)).erf());
            var expected = activated.matmul(parameters[2].t()) + parameters[3];
            Assert.IsLessThan(1e-5, (network.call(x) - expected).abs().max().ToDouble(), activation.ToString());
        }
    }

    [TestMethod]
    public void Attention_module_weights_are_inspectable_and_match_the_fused_output()
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        Seeding.Apply(3);
        var attention = new MultiHeadAttention(32, 4, dropout: 0.1);
        attention.eval();
        var x = randn(2, 6, 32);
        var memory = randn(2, 9, 32);
        var padding = tensor(new[] { false, false, false, false, false, false, false, false, false, false, false, false, false, false, false, true, true, true }).reshape(2, 9);
        var mask = ScaledDotProductAttention.KeyMask(padding);

        var (output, weights) = attention.ForwardWithWeights(x, memory, mask);
        CollectionAssert.AreEqual(new long[] { 2, 4, 6, 9 }, weights.shape);
        Assert.IsLessThan(1e-6, (weights.sum(-1) - 1).abs().max().ToDouble());
        Assert.AreEqual(0.0, weights[1, .., .., 6..].abs().max().ToDouble());
        Assert.IsLessThanOrEqualTo(1e-5, (output - attention.forward(x, memory, mask)).abs().max().ToDouble(), "cross-attention");

        var (selfOutput, _) = attention.ForwardWithWeights(x, x, causal: true);
        Assert.IsLessThanOrEqualTo(1e-5, (selfOutput - attention.forward(x, x, causal: true)).abs().max().ToDouble(), "fused QKV self-attention");
    }

    [TestMethod]
    public void Bfloat16_attention_accepts_a_float32_additive_mask()
    {
        using var scope = NewDisposeScope();
        Seeding.Apply(4);
        var q = randn(1, 2, 5, 8).to_type(ScalarType.BFloat16);
        var additive = zeros(1, 1, 1, 5);
        additive[.., .., .., 4] = tensor(float.NegativeInfinity);
        var output = ScaledDotProductAttention.Compute(q, q, q, additive, causal: true);
        var reference = ScaledDotProductAttention.ComputeWithWeights(q.to_type(ScalarType.Float32), q.to_type(ScalarType.Float32), q.to_type(ScalarType.Float32), additive, causal: true).Output;
        Assert.AreEqual(ScalarType.BFloat16, output.dtype);
        Assert.IsLessThan(0.05, (output.to_type(ScalarType.Float32) - reference).abs().max().ToDouble());
    }
}
