using TorchSharp;
using Transformer.MLNet.Network.Configuration;
using Transformer.MLNet.Network.Models;
using Transformer.MLNet.Network.Tokenization;
using Transformer.MLNet.Network.Training;
using static TorchSharp.torch;

namespace Transformer.MLNet.Network.Generation;

/// <summary>
/// Trains a <see cref="DecoderOnlyModel"/> as a language model the way nanoGPT does: random windows of
/// <see cref="GenerativeTrainingOptions.BlockSize"/> + 1 tokens from one token stream, every position predicting
/// the next. An epoch is as many windows as the stream has blocks. Validation uses consecutive windows.
/// </summary>
public static class LanguageModelTrainer
{
    /// <summary>Joins documents into one stream, each as bos, its ids, eos.</summary>
    /// <param name="documents">Token ids per document.</param>
    /// <returns>The stream.</returns>
    public static int[] Stream(IEnumerable<int[]> documents)
    {
        ArgumentNullException.ThrowIfNull(documents);
        var stream = new List<int>();
        foreach (int[] document in documents)
        {
            stream.Add(GenerationTokenizer.BosId);
            stream.AddRange(document);
            stream.Add(GenerationTokenizer.EosId);
        }

        return [.. stream];
    }

    /// <summary>
    /// The text-generation entry point: learns a vocabulary from the training documents (characters, or o200k_base
    /// restricted to the tokens seen), joins the documents into streams, builds a decoder-only model of
    /// <paramref name="architecture"/> seeded with <see cref="TrainingLoopOptions.Seed"/>, moves it to
    /// <paramref name="device"/> and trains it. A block longer than the training stream is shortened to fit, and
    /// validation text too short for one block is not used.
    /// </summary>
    /// <param name="architecture">Shape of the model; its vocabulary size and padding id are set from the tokenizer.</param>
    /// <param name="characterTokens">One token per character (true) or o200k_base subwords (false).</param>
    /// <param name="train">Training documents.</param>
    /// <param name="validation">Validation documents, or null.</param>
    /// <param name="options">Settings.</param>
    /// <param name="device">Where to train; null for the CPU.</param>
    /// <param name="cancellation">Stops training with <see cref="OperationCanceledException"/>.</param>
    /// <returns>A generator over the trained model (the caller owns it) and what training did.</returns>
    public static (TextGenerator Generator, TrainingResult Result) Fit(
        TransformerConfig architecture, bool characterTokens, IReadOnlyList<string> train, IReadOnlyList<string>? validation,
        GenerativeTrainingOptions options, Device? device = null, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(architecture);
        ArgumentNullException.ThrowIfNull(train);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        GenerationTokenizer tokenizer = characterTokens ? CharacterTokenizer.Train(string.Concat(train)) : RestrictedTiktokenTokenizer.Train(train);
        int[] trainStream = Stream(train.Select(tokenizer.Encode));
        int[]? validationStream = validation is null ? null : Stream(validation.Select(tokenizer.Encode));
        int block = Math.Min(options.BlockSize, trainStream.Length - 1);
        if (validationStream is not null && validationStream.Length <= block)
            validationStream = null;

        Seeding.Apply(options.Seed);
        var model = new DecoderOnlyModel(architecture with { VocabSize = tokenizer.VocabSize, PadTokenId = GenerationTokenizer.PadId });
        try
        {
            model.to(device ?? CPU);
            var result = Train(model, trainStream, validationStream, options with { BlockSize = Math.Max(1, block) }, cancellation);
            return (new TextGenerator(model, tokenizer), result);
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>Trains on a token stream.</summary>
    /// <param name="model">The model, trained in place.</param>
    /// <param name="train">Training tokens.</param>
    /// <param name="validation">Validation tokens for early stopping, or null.</param>
    /// <param name="options">Settings (BlockSize, BatchSize, ...).</param>
    /// <param name="cancellation">Stops training with <see cref="OperationCanceledException"/>.</param>
    /// <returns>What training did; the model holds the best validated weights.</returns>
    /// <exception cref="ArgumentException">A stream is too short for one window, the block exceeds the model's positions, or an id is out of range.</exception>
    public static TrainingResult Train(DecoderOnlyModel model, int[] train, int[]? validation, GenerativeTrainingOptions options,
        CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(train);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        int block = options.BlockSize;
        if (block > model.Config.MaxPositions)
        {
            throw new ArgumentException(
                $"GenerativeTrainingOptions.BlockSize = {block} exceeds the model's MaxPositions ({model.Config.MaxPositions}): lower BlockSize or raise MaxPositions.",
                nameof(options));
        }

        CheckStream(train, block, model.Config.VocabSize, nameof(train));
        if (validation is not null)
            CheckStream(validation, block, model.Config.VocabSize, nameof(validation));

        return TrainingLoop.Run(new LanguageModelTask(model, train, validation, options), options, cancellation);
    }

    /// <summary>Mean cross-entropy per predicted token over consecutive windows of a stream.</summary>
    /// <param name="model">The model.</param>
    /// <param name="stream">Tokens.</param>
    /// <param name="blockSize">Window length.</param>
    /// <param name="batchSize">Windows per batch.</param>
    /// <param name="maxBatches">Most batches; 0 for the whole stream.</param>
    /// <returns>Nats per token.</returns>
    public static double Evaluate(DecoderOnlyModel model, int[] stream, int blockSize, int batchSize = 32, int maxBatches = 0)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(stream);
        CheckStream(stream, blockSize, model.Config.VocabSize, nameof(stream));
        model.eval();
        using var noGrad = no_grad();
        return ValidationLoss(model, stream, blockSize, batchSize, maxBatches, model.parameters().First().device);
    }

    private static double ValidationLoss(DecoderOnlyModel model, int[] stream, int block, int batchSize, int maxBatches, Device device)
    {
        var starts = Enumerable.Range(0, (stream.Length - 1) / block).Select(w => w * block).ToArray();
        double nats = 0;
        long windows = 0;
        for (int b = 0; b * batchSize < starts.Length && (maxBatches == 0 || b < maxBatches); b++)
        {
            using var scope = NewDisposeScope();
            int[] batch = starts.AsSpan(b * batchSize, Math.Min(batchSize, starts.Length - (b * batchSize))).ToArray();
            using var loss = Loss(model, stream, batch, block, 0.0, device);
            nats += loss.ToDouble() * batch.Length;
            windows += batch.Length;
        }

        return nats / Math.Max(1, windows);
    }

    private static Tensor Loss(DecoderOnlyModel model, int[] stream, int[] starts, int block, double smoothing, Device device)
    {
        var inputs = new long[starts.Length * block];
        var targets = new long[starts.Length * block];
        for (int r = 0; r < starts.Length; r++)
        {
            for (int t = 0; t < block; t++)
            {
                inputs[(r * block) + t] = stream[starts[r] + t];
                targets[(r * block) + t] = stream[starts[r] + t + 1];
            }
        }

        using var x = tensor(inputs, [starts.Length, block], device: device);    // (B, T)
        using var y = tensor(targets, [starts.Length, block], device: device);   // (B, T)
        using var logits = model.forward(x);                                      // (B, T, V)
        return LabelSmoothedCrossEntropy.Compute(logits, y, smoothing);
    }

    private static void CheckStream(int[] stream, int block, int vocabSize, string name)
    {
        if (stream.Length < block + 1)
            throw new ArgumentException($"The {name} stream has {stream.Length} tokens, fewer than one window of BlockSize + 1 = {block + 1}.", name);
        foreach (int id in stream)
        {
            if ((uint)id >= (uint)vocabSize)
                throw new ArgumentException($"The {name} stream has token id {id}, outside the model's vocabulary (VocabSize = {vocabSize}).", name);
        }
    }

    /// <summary>Windows in an epoch: as many as the stream has blocks (at least one).</summary>
    private static int EpochWindows(int streamLength, int block) => Math.Max(1, TrainingTask.BatchCount(streamLength, block));

    /// <summary>
    /// Language modelling as a training task: random windows of the stream, validation cross-entropy as the metric. A
    /// batch holds <see cref="TrainingLoopOptions.BatchSize"/> windows, or an epoch's windows when the stream has fewer
    /// blocks, as a classifier's batch holds at most the training rows.
    /// </summary>
    private sealed class LanguageModelTask(DecoderOnlyModel model, int[] train, int[]? validation, GenerativeTrainingOptions options)
        : TrainingTask(model, train.Length, BatchCount(EpochWindows(train.Length, options.BlockSize), options.BatchSize),
            validation is null ? null : ValidationMetric.Loss)
    {
        private readonly Random random = new(options.Seed);
        private readonly Device device = model.parameters().First().device;
        private readonly int windowsPerBatch = Math.Min(options.BatchSize, EpochWindows(train.Length, options.BlockSize));

        public override IReadOnlyList<MicroBatch> Epoch(int epoch)
        {
            var batches = new MicroBatch[MicroBatchesPerEpoch];
            for (int b = 0; b < batches.Length; b++)
            {
                var starts = new int[windowsPerBatch];
                for (int i = 0; i < starts.Length; i++)
                    starts[i] = random.Next(train.Length - options.BlockSize);
                // Every window has BlockSize targets, so windows weigh the same.
                batches[b] = new MicroBatch(starts.Length, () => Loss(model, train, starts, options.BlockSize, options.Optimization.LabelSmoothing, device),
                    (start, end) => new PartLoss(Loss(model, train, starts[start..end], options.BlockSize, options.Optimization.LabelSmoothing, device), end - start));
            }

            return batches;
        }

        public override double Validate() =>
            ValidationLoss(model, validation!, options.BlockSize, options.BatchSize, options.MaxValidationBatches, device);
    }
}
