using System.Diagnostics;
using System.Globalization;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Transformer.MLNet.Examples.Data;
using Transformer.MLNet.Network.Embeddings;
using Transformer.MLNet.Network.Evaluation;
using Transformer.MLNet.Network.Export;
using Transformer.MLNet.Network.Pretrained;
using Transformer.MLNet.Network.Tokenization;

namespace Transformer.MLNet.Benchmarks;

/// <summary>
/// Our all-MiniLM-L6-v2 exported to ONNX (<see cref="SentenceEncoder.ExportOnnx"/>) and run by ONNX Runtime, against
/// the same model on our TorchSharp path, on the 2758 STS-B test sentences: both tokenize with our tokenizer and run
/// the same length-sorted batches of 32 with the same thread count; sentences per second (tokenization included).
/// ratio = ONNX path / TorchSharp path, so above 1 means the exported model is faster. Side note: the same export with
/// int8 weights (<see cref="OnnxInt8Quantizer"/>), its speed against the float32 export and its Spearman.
/// </summary>
internal sealed class OnnxEmbedBenchmark : IBenchmark
{
    private const int BatchSize = 32;

    public string Name => "onnx-embed";

    public string Description => "all-MiniLM-L6-v2 embeddings of STS-B test: our ONNX export on ONNX Runtime vs our TorchSharp path (fp32), sentences/s";

    public BenchmarkResult Run(BenchmarkOptions options)
    {
        var pairs = StsBenchmark.Read("test");
        var sentences = pairs.SelectMany(p => new[] { p.Sentence1, p.Sentence2 }).ToArray();
        int threads = Environment.ProcessorCount;
        int repeats = options.Quick ? 1 : 3;
        Console.WriteLine($"   {sentences.Length} sentences, length-sorted batches of {BatchSize}, {threads} threads each side, median of {repeats} back-to-back runs");

        using var bert = PretrainedBert.LoadMiniLm();
        using var torchPath = SentenceEncoder.FromPretrained(bert, new SentenceEncoderOptions { BatchSize = BatchSize, Threads = threads });
        string folder = Path.Combine(Path.GetTempPath(), "transformer-mlnet-onnx-embed-" + Environment.ProcessId.ToString(CultureInfo.InvariantCulture));
        try
        {
            var manifest = torchPath.ExportOnnx(folder);
            long bytes = new FileInfo(Path.Combine(folder, OnnxExportManifest.ModelFileName)).Length;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"   exported model.onnx: {bytes / 1e6:F1} MB, opset {manifest.Opset}"));
            using var sessionOptions = new SessionOptions { IntraOpNumThreads = threads, InterOpNumThreads = 1 };
            sessionOptions.AddSessionConfigEntry("session.intra_op.allow_spinning", "0");
            using var session = new InferenceSession(Path.Combine(folder, OnnxExportManifest.ModelFileName), sessionOptions);
            OnnxInt8Quantizer.Quantize(folder, folder + "-int8");
            long int8Bytes = new FileInfo(Path.Combine(folder + "-int8", OnnxExportManifest.ModelFileName)).Length;
            using var int8Session = new InferenceSession(Path.Combine(folder + "-int8", OnnxExportManifest.ModelFileName), sessionOptions);

            float[][] OnnxEncode(IReadOnlyList<string> texts) => Encode(session, texts);

            float[][] Encode(InferenceSession session, IReadOnlyList<string> texts)
            {
                var ids = texts.Select(t => bert.Tokenizer.EncodeToIds(t, manifest.MaxTokens, out _)).ToArray();
                int[] order = Enumerable.Range(0, ids.Length).OrderBy(i => ids[i].Length).ToArray();
                var result = new float[ids.Length][];
                for (int start = 0; start < order.Length; start += BatchSize)
                {
                    var rows = order.AsSpan(start, Math.Min(BatchSize, order.Length - start)).ToArray();
                    var batch = new TokenizedBatch([.. rows.Select(r => ids[r])], bert.Tokenizer.PadTokenId, truncatedCount: 0);
                    int[] dims = [batch.Count, batch.SequenceLength];
                    using var outputs = session.Run(
                    [
                        NamedOnnxValue.CreateFromTensor("input_ids", new DenseTensor<long>(batch.InputIds, dims)),
                        NamedOnnxValue.CreateFromTensor("attention_mask", new DenseTensor<long>(batch.AttentionMask, dims)),
                        NamedOnnxValue.CreateFromTensor("token_type_ids", new DenseTensor<long>(batch.TokenTypeIds, dims)),
                    ], ["sentence_embedding"]);
                    var flat = ((DenseTensor<float>)outputs.Single().AsTensor<float>()).Buffer.Span;
                    for (int b = 0; b < rows.Length; b++)
                        result[rows[b]] = flat.Slice(b * manifest.OutputSize, manifest.OutputSize).ToArray();
                }

                return result;
            }

            torchPath.Encode(sentences.Take(2 * BatchSize).ToList());   // warm-up
            OnnxEncode(sentences.Take(2 * BatchSize).ToList());
            Encode(int8Session, sentences.Take(2 * BatchSize).ToList());
            var int8Rates = new List<double>();
            float[][] int8Embeddings = [];
            var onnxRates = new List<double>();
            var torchRates = new List<double>();
            float[][] onnxEmbeddings = [], torchEmbeddings = [];
            for (int r = 0; r < repeats; r++)
            {
                var clock = Stopwatch.StartNew();
                onnxEmbeddings = OnnxEncode(sentences);
                double onnxRate = sentences.Length / clock.Elapsed.TotalSeconds;
                clock.Restart();
                torchEmbeddings = torchPath.Encode(sentences);
                double torchRate = sentences.Length / clock.Elapsed.TotalSeconds;
                clock.Restart();
                int8Embeddings = Encode(int8Session, sentences);
                int8Rates.Add(sentences.Length / clock.Elapsed.TotalSeconds);
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"   run {r + 1}: ONNX Runtime {onnxRate:F1} sentences/s, TorchSharp {torchRate:F1} sentences/s"));
                onnxRates.Add(onnxRate);
                torchRates.Add(torchRate);
            }

            double maxDelta = onnxEmbeddings.Zip(torchEmbeddings, (a, b) => a.Zip(b, (x, y) => Math.Abs(x - y)).Max()).Max();
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"   max |Δ| between the paths {maxDelta:E2}; STS-B test Spearman: ONNX {EmbedBenchmark.Spearman(pairs, onnxEmbeddings):F5}, TorchSharp {EmbedBenchmark.Spearman(pairs, torchEmbeddings):F5}"));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"   side note, int8 weights ({int8Bytes / 1e6:F1} MB): {EmbedBenchmark.Median(int8Rates):F1} sentences/s, {EmbedBenchmark.Median(int8Rates.Zip(onnxRates, (q, o) => q / o)):F2}× the float32 export, {EmbedBenchmark.Median(int8Rates.Zip(torchRates, (q, t) => q / t)):F2}× TorchSharp; Spearman {EmbedBenchmark.Spearman(pairs, int8Embeddings):F5}"));
            double ratio = EmbedBenchmark.Median(onnxRates.Zip(torchRates, (o, t) => o / t));
            return new BenchmarkResult(Name, EmbedBenchmark.Median(onnxRates), EmbedBenchmark.Median(torchRates), ratio, "sentences/s");
        }
        finally
        {
            foreach (string created in new[] { folder, folder + "-int8" })
            {
                if (Directory.Exists(created))
                    Directory.Delete(created, recursive: true);
            }
        }
    }
}
