using TorchSharp;
using Transformer.MLNet.Network.Bert;
using Transformer.MLNet.Network.Modules;
using Transformer.MLNet.Network.Pretrained;
using Transformer.MLNet.Network.Runtime;
using Transformer.MLNet.Network.Tokenization;
using static TorchSharp.torch;

namespace Transformer.MLNet.Network.Embeddings;

/// <summary>
/// Turns texts into fixed-size sentence embeddings with a pretrained BERT encoder: WordPiece tokens → encoder → pooling
/// over the real tokens → optional L2 normalisation. Tuned for throughput: inference mode, texts sorted by length so
/// that each batch carries little padding, optional bfloat16. <see cref="Encode"/> is thread-safe, also against
/// <see cref="Dispose"/>: disposing waits for running calls, and later calls throw <see cref="ObjectDisposedException"/>.
/// </summary>
public sealed class SentenceEncoder : IDisposable
{
    private readonly BertModel _model;
    private readonly bool _ownsModel;
    private readonly BertTextTokenizer _tokenizer;
    private readonly Device _device;
    private readonly ScalarType _dtype;
    private readonly Lock _gate = new();
    private readonly UsageGuard _lifetime = new(typeof(SentenceEncoder));
    private long _truncatedTextCount;

    // For a model of its own (a converted copy no other code can change): the weights packed or reordered for batched
    // inference once, at the first call of two or more batches, and kept until the encoder is disposed.
    private Kernels.InferenceWeights? _keptWeights;
    private bool _keptWeightsBuilt;

    private SentenceEncoder(BertModel model, bool ownsModel, BertTextTokenizer tokenizer, SentenceEncoderOptions options, Device device, ScalarType dtype)
    {
        _model = model;
        _ownsModel = ownsModel;
        _tokenizer = tokenizer;
        Options = options;
        _device = device;
        _dtype = dtype;
        Dimension = model.Config.ModelDim;
    }

    /// <summary>Length of every embedding (the model's hidden size: 384 for MiniLM-L6).</summary>
    public int Dimension { get; }

    /// <summary>Texts encoded so far that had more than <see cref="SentenceEncoderOptions.MaxTokens"/> tokens and were cut.</summary>
    public long TruncatedTextCount => Interlocked.Read(ref _truncatedTextCount);

    /// <summary>The settings in use.</summary>
    public SentenceEncoderOptions Options { get; }

    /// <summary>Creates an encoder over <paramref name="model"/>.</summary>
    /// <param name="model">The pretrained bundle. In float32 on its own device the encoder shares its weights (so
    /// fine-tuning shows through); for bfloat16 or another device it keeps a converted copy.</param>
    /// <param name="options">Settings; defaults: mean pooling, normalised, 256 tokens, batches of 32, float32.</param>
    /// <param name="device">Where to run; defaults to the device of the model's weights.</param>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range.</exception>
    public static SentenceEncoder FromPretrained(PretrainedBert model, SentenceEncoderOptions? options = null, Device? device = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        options ??= new SentenceEncoderOptions();
        if (options.BatchSize < 1)
            throw new ArgumentOutOfRangeException(nameof(options), options.BatchSize, "SentenceEncoderOptions.BatchSize must be at least 1.");
        if (options.Threads < 0)
            throw new ArgumentOutOfRangeException(nameof(options), options.Threads, "SentenceEncoderOptions.Threads must be 0 (one per core) or more.");
        if (!Enum.IsDefined(options.Pooling))
            throw new ArgumentOutOfRangeException(nameof(options), options.Pooling, "SentenceEncoderOptions.Pooling must be Mean, Cls or Max.");
        if (!Enum.IsDefined(options.TokenizationRules))
        {
            throw new ArgumentOutOfRangeException(nameof(options), options.TokenizationRules,
                "SentenceEncoderOptions.TokenizationRules must be Reference or MiniLmPackage.");
        }
        if (options.MaxTokens < 2 || options.MaxTokens > model.Config.MaxPositions)
        {
            throw new ArgumentOutOfRangeException(nameof(options.MaxTokens), options.MaxTokens,
                $"MaxTokens must be between 2 and the model's {model.Config.MaxPositions} positions; set MaxTokens to at most {model.Config.MaxPositions}.");
        }

        var weightsDevice = model.Model.parameters().First().device;
        device ??= weightsDevice;
        var dtype = options.UseBFloat16 ? ScalarType.BFloat16 : ScalarType.Float32;
        if (dtype == ScalarType.Float32 && device.type == weightsDevice.type && device.index == weightsDevice.index)
            return new SentenceEncoder(model.Model, ownsModel: false, model.Tokenizer.WithRules(options.TokenizationRules), options, device, dtype);

        var copy = new BertModel(model.Config);
        StateDictLoader.LoadStrict(copy, model.Model.state_dict(), "the pretrained model");
        copy.to(device).to(dtype).eval();
        return new SentenceEncoder(copy, ownsModel: true, model.Tokenizer.WithRules(options.TokenizationRules), options, device, dtype);
    }

    /// <summary>Embeds texts.</summary>
    /// <param name="texts">The texts (none null). Longer ones are cut to <see cref="SentenceEncoderOptions.MaxTokens"/> and
    /// counted in <see cref="TruncatedTextCount"/>; an empty text is embedded as <c>[CLS] [SEP]</c> alone.</param>
    /// <returns>One <see cref="Dimension"/>-long row per text, in input order.</returns>
    /// <exception cref="ObjectDisposedException">The encoder has been disposed.</exception>
    public float[][] Encode(IReadOnlyList<string> texts)
    {
        ArgumentNullException.ThrowIfNull(texts);
        using var use = _lifetime.Enter();
        var ids = new int[texts.Count][];
        for (int i = 0; i < texts.Count; i++)
        {
            var text = texts[i] ?? throw new ArgumentException($"Text {i} is null; pass an empty string for an empty text.", nameof(texts));
            ids[i] = _tokenizer.EncodeToIds(text, Options.MaxTokens, out bool cut);
            if (cut)
                Interlocked.Increment(ref _truncatedTextCount);
        }

        // Sorting by length makes neighbours in a batch about equally long, so little compute goes to padding.
        int[] order = Enumerable.Range(0, ids.Length).OrderBy(i => ids[i].Length).ToArray();
        var result = new float[ids.Length][];
        lock (_gate)
        {
            bool wasTraining = _model.training;
            _model.eval();
            try
            {
                int batches = Training.TrainingTask.BatchCount(order.Length, Options.BatchSize);
                int threads = Math.Min(batches, Options.Threads == 0 ? Environment.ProcessorCount : Options.Threads);
                // Several batches: the projection weights packed once for all of them, where that is faster on this CPU;
                // once for the encoder's lifetime where its model is its own, else once per call (the caller's model
                // may change between calls).
                using var perCall = batches >= 2 && !_ownsModel ? Kernels.InferenceWeights.For(_model) : null;
                var packed = batches >= 2 && _ownsModel ? KeptWeights() : perCall;
                void Run(int batch)
                {
                    using var inference = torch.inference_mode();   // thread-local, so entered on each worker
                    using var packs = packed?.Use();
                    int start = batch * Options.BatchSize;
                    EncodeBatch(ids, order.AsSpan(start, Math.Min(Options.BatchSize, order.Length - start)), result);
                }

                if (threads <= 1)
                {
                    for (int b = 0; b < batches; b++)
                        Run(b);
                }
                else
                {
                    using var singleThreadedOps = IntraOpThreads.UseOne();
                    // Longest batches first, so that no worker is left with a long one at the end.
                    int next = batches;
                    RunOnWorkers(threads, () =>
                    {
                        int b;
                        while ((b = Interlocked.Decrement(ref next)) >= 0)
                            Run(b);
                    });
                }
            }
            finally
            {
                if (wasTraining)
                    _model.train();
            }

            // Streams call this chunk after chunk; without it glibc keeps the freed activations and RSS creeps up.
            if (order.Length > Options.BatchSize)
                NativeHeap.Trim();
        }

        return result;
    }

    /// <summary>
    /// Exports the encoder with its pooling and normalisation to ONNX (opset 17; inputs <c>input_ids</c>,
    /// <c>attention_mask</c>, <c>token_type_ids</c>; outputs <c>last_hidden_state</c> and <c>sentence_embedding</c>;
    /// dynamic batch and sequence axes), with <c>vocab.txt</c> and <c>onnx_export.json</c> beside it.
    /// </summary>
    /// <param name="folder">Created if missing; existing export files are replaced.</param>
    /// <returns>The settings written to <c>onnx_export.json</c>.</returns>
    public Export.OnnxExportManifest ExportOnnx(string folder)
    {
        using var use = _lifetime.Enter();
        lock (_gate)
            return Export.OnnxExporter.Export(folder, _model, _tokenizer, Options);
    }

    /// <summary>Releases the converted copy of the weights, if this encoder made one (with the copies it keeps for batched
    /// inference), once running calls have finished; later calls throw <see cref="ObjectDisposedException"/>. Calling it
    /// again does nothing.</summary>
    public void Dispose() => _lifetime.Dispose(() =>
    {
        _keptWeights?.Dispose();
        if (_ownsModel)
            _model.Dispose();
    });

    // Under _gate.
    private Kernels.InferenceWeights? KeptWeights()
    {
        if (!_keptWeightsBuilt)
        {
            _keptWeights = Kernels.InferenceWeights.For(_model);
            _keptWeightsBuilt = true;
        }

        return _keptWeights;
    }

    // Dedicated threads rather than the thread pool: each sets its own (thread-local) OpenMP/MKL thread count to 1,
    // which must not outlive the call on threads that other code reuses.
    private static void RunOnWorkers(int count, Action work)
    {
        var errors = new System.Collections.Concurrent.ConcurrentQueue<Exception>();
        var workers = Enumerable.Range(0, count).Select(_ => new Thread(() =>
        {
            try
            {
                torch.set_num_threads(1);
                work();
            }
            catch (Exception e)
            {
                errors.Enqueue(e);
            }
        }) { IsBackground = true, Name = "SentenceEncoder worker" }).ToList();
        workers.ForEach(w => w.Start());
        workers.ForEach(w => w.Join());
        if (errors.Count == 1)
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(errors.Single());
        if (!errors.IsEmpty)
            throw new AggregateException(errors);
    }

    private void EncodeBatch(int[][] ids, ReadOnlySpan<int> rows, float[][] result)
    {
        using var scope = NewDisposeScope();
        var rowIds = new int[rows.Length][];
        for (int b = 0; b < rowIds.Length; b++)
            rowIds[b] = ids[rows[b]];
        var batch = new TokenizedBatch(rowIds, _tokenizer.PadTokenId, truncatedCount: 0);
        long[] shape = [batch.Count, batch.SequenceLength];
        var idTensor = tensor(batch.InputIds, shape, device: _device);          // (B, T)
        var maskTensor = tensor(batch.AttentionMask, shape, device: _device);   // (B, T)
        var tokenTypes = tensor(batch.TokenTypeIds, shape, device: _device);    // (B, T)
        // The layers skip the padding where the model's inference path allows (pooling reads the mask).
        var hidden = _model.ForwardSkippingPadding(idTensor, maskTensor, tokenTypes).to(ScalarType.Float32);   // (B, T, D)
        var pooled = Pool(hidden, maskTensor);                                                   // (B, D)
        if (Options.Normalize)
            pooled = nn.functional.normalize(pooled, p: 2, dim: 1, eps: 1e-12);

        // Row by row: one (B, D) array would be a large-object-heap allocation per batch, which only a full GC
        // reclaims, so a long stream would grow the managed heap between full collections.
        var host = pooled.cpu();
        for (int b = 0; b < batch.Count; b++)
            result[rows[b]] = host[b].data<float>().ToArray();
    }

    private Tensor Pool(Tensor hidden, Tensor mask)
    {
        switch (Options.Pooling)
        {
            case Pooling.Cls:
                return hidden.select(1, 0);                                            // (B, T, D) -> (B, D)
            case Pooling.Max:
                var padding = mask.eq(0).unsqueeze(-1);                                // (B, T, 1)
                return hidden.masked_fill(padding, float.NegativeInfinity).amax([1]);  // (B, D)
            default:
                // Averaged in float32 even when the encoder ran in bfloat16, so that long texts lose no precision.
                return TokenPooling.Mean(hidden.to_type(ScalarType.Float32), mask);   // (B, T, D) -> (B, D)
        }
    }
}
