using TorchSharp;
using Transformer.MLNet.Network.Configuration;
using Transformer.MLNet.Network.Models;
using Transformer.MLNet.Network.Tokenization;
using Transformer.MLNet.Network.Training;
using static TorchSharp.torch;

namespace Transformer.MLNet.Network.Generation;

/// <summary>
/// Trains an <see cref="EncoderDecoderModel"/> on sentence pairs with teacher forcing: the encoder reads the
/// source ids followed by eos, the decoder reads bos followed by the target ids and predicts the target ids
/// followed by eos, under label-smoothed cross-entropy (padding ignored). Batches hold sentences of similar length.
/// </summary>
public static class TranslationTrainer
{
    /// <summary>
    /// The translation entry point: learns one o200k_base-restricted vocabulary from both sides of the training pairs,
    /// builds an encoder-decoder of <paramref name="architecture"/> seeded with <see cref="TrainingLoopOptions.Seed"/>,
    /// moves it to <paramref name="device"/> and trains it.
    /// </summary>
    /// <param name="architecture">Shape of the model; its vocabulary size and padding id are set from the tokenizer.</param>
    /// <param name="minTokenCount">Keep a token in the vocabulary when it occurs at least this often in the training text.</param>
    /// <param name="train">Training pairs.</param>
    /// <param name="validation">Validation pairs, or null.</param>
    /// <param name="options">Settings.</param>
    /// <param name="device">Where to train; null for the CPU.</param>
    /// <param name="cancellation">Stops training with <see cref="OperationCanceledException"/>.</param>
    /// <returns>A generator over the trained model (the caller owns it) and what training did.</returns>
    public static (TranslationGenerator Generator, TrainingResult Result) Fit(
        TransformerConfig architecture, int minTokenCount, IReadOnlyList<TranslationPair> train, IReadOnlyList<TranslationPair>? validation,
        GenerativeTrainingOptions options, Device? device = null, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(train);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        var tokenizer = RestrictedTiktokenTokenizer.Train(train.SelectMany(p => new[] { p.Source, p.Target }), minTokenCount);
        if (tokenizer.VocabSize == GenerationTokenizer.SpecialTokenCount)
        {
            throw new ArgumentException(
                $"minTokenCount = {minTokenCount} keeps no token of the training text, so every translation would be empty: lower it (1 keeps every token).",
                nameof(minTokenCount));
        }

        return Fit(architecture, tokenizer, train, validation, options, device, cancellation);
    }

    /// <summary>
    /// Like <see cref="Fit(TransformerConfig, int, IReadOnlyList{TranslationPair}, IReadOnlyList{TranslationPair}?, GenerativeTrainingOptions, Device?, CancellationToken)"/>
    /// with a vocabulary already built (for instance by <see cref="RestrictedTiktokenTokenizer.Train(IReadOnlyDictionary{int, int}, int)"/>
    /// from counts the caller checked).
    /// </summary>
    /// <param name="architecture">Shape of the model; its vocabulary size and padding id are set from the tokenizer.</param>
    /// <param name="tokenizer">Shared source/target tokenizer.</param>
    /// <param name="train">Training pairs.</param>
    /// <param name="validation">Validation pairs, or null.</param>
    /// <param name="options">Settings.</param>
    /// <param name="device">Where to train; null for the CPU.</param>
    /// <param name="cancellation">Stops training with <see cref="OperationCanceledException"/>.</param>
    /// <returns>A generator over the trained model (the caller owns it) and what training did.</returns>
    public static (TranslationGenerator Generator, TrainingResult Result) Fit(
        TransformerConfig architecture, GenerationTokenizer tokenizer, IReadOnlyList<TranslationPair> train, IReadOnlyList<TranslationPair>? validation,
        GenerativeTrainingOptions options, Device? device = null, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(architecture);
        ArgumentNullException.ThrowIfNull(tokenizer);
        ArgumentNullException.ThrowIfNull(train);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        Seeding.Apply(options.Seed);
        var model = new EncoderDecoderModel(architecture with { VocabSize = tokenizer.VocabSize, PadTokenId = GenerationTokenizer.PadId });
        try
        {
            model.to(device ?? CPU);
            var result = Train(model, tokenizer, train, validation, options, cancellation);
            return (new TranslationGenerator(model, tokenizer), result);
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>Tokenizes text pairs and trains.</summary>
    /// <param name="model">The model, trained in place.</param>
    /// <param name="tokenizer">Shared tokenizer of both sides.</param>
    /// <param name="train">Training pairs.</param>
    /// <param name="validation">Validation pairs for early stopping, or null.</param>
    /// <param name="options">Settings.</param>
    /// <param name="cancellation">Stops training with <see cref="OperationCanceledException"/>.</param>
    /// <returns>What training did; the model holds the best validated weights.</returns>
    public static TrainingResult Train(EncoderDecoderModel model, GenerationTokenizer tokenizer, IReadOnlyList<TranslationPair> train,
        IReadOnlyList<TranslationPair>? validation, GenerativeTrainingOptions options, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        ArgumentNullException.ThrowIfNull(train);
        static (int[], int[])[] Encode(GenerationTokenizer t, IReadOnlyList<TranslationPair> pairs) =>
            [.. pairs.Select(p => (t.Encode(p.Source), t.Encode(p.Target)))];
        return Train(model, Encode(tokenizer, train), validation is null ? null : Encode(tokenizer, validation), options, cancellation);
    }

    /// <summary>Trains on token id pairs (without bos or eos).</summary>
    /// <param name="model">The model, trained in place.</param>
    /// <param name="train">Training (source, target) ids.</param>
    /// <param name="validation">Validation pairs for early stopping, or null.</param>
    /// <param name="options">Settings.</param>
    /// <param name="cancellation">Stops training with <see cref="OperationCanceledException"/>.</param>
    /// <returns>What training did; the model holds the best validated weights.</returns>
    /// <exception cref="ArgumentException">No training pairs, or a token id outside the model's vocabulary.</exception>
    public static TrainingResult Train(EncoderDecoderModel model, IReadOnlyList<(int[] Source, int[] Target)> train,
        IReadOnlyList<(int[] Source, int[] Target)>? validation, GenerativeTrainingOptions options, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(train);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        if (train.Count == 0)
            throw new ArgumentException("There are no training pairs.", nameof(train));
        CheckIds(train, model.Config.VocabSize, nameof(train));
        if (validation is not null)
            CheckIds(validation, model.Config.VocabSize, nameof(validation));

        var examples = train.Select(p => Example.From(p, model.Config.MaxPositions)).ToArray();
        var held = validation?.Select(p => Example.From(p, model.Config.MaxPositions)).ToArray();
        return TrainingLoop.Run(new TranslationTask(model, examples, held, options), options, cancellation);
    }

    /// <summary>Mean cross-entropy per target token (eos included, no label smoothing).</summary>
    /// <param name="model">The model.</param>
    /// <param name="pairs">(source, target) ids.</param>
    /// <param name="batchSize">Pairs per batch.</param>
    /// <returns>Nats per token.</returns>
    public static double Evaluate(EncoderDecoderModel model, IReadOnlyList<(int[] Source, int[] Target)> pairs, int batchSize = 64)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(pairs);
        var examples = pairs.Select(p => Example.From(p, model.Config.MaxPositions)).ToArray();
        model.eval();
        using var noGrad = no_grad();
        return ValidationLoss(model, examples, new GenerativeTrainingOptions { BatchSize = batchSize }, model.parameters().First().device);
    }

    private static double ValidationLoss(EncoderDecoderModel model, Example[] examples, GenerativeTrainingOptions options, Device device)
    {
        double nats = 0;
        long tokens = 0;
        var ordered = examples.OrderBy(e => e.Source.Length).ToArray();
        int batches = 0;
        for (int start = 0; start < ordered.Length; start += options.BatchSize)
        {
            if (options.MaxValidationBatches > 0 && batches++ >= options.MaxValidationBatches)
                break;
            using var scope = NewDisposeScope();
            var batch = ordered.AsSpan(start, Math.Min(options.BatchSize, ordered.Length - start)).ToArray();
            using var loss = Loss(model, batch, 0.0, device);
            long count = batch.Sum(e => e.TargetOutput.Length);
            nats += loss.ToDouble() * count;
            tokens += count;
        }

        return nats / Math.Max(1, tokens);
    }

    private static Tensor Loss(EncoderDecoderModel model, Example[] batch, double smoothing, Device device)
    {
        using var source = TokenBatch.Pad([.. batch.Select(e => e.Source)], GenerationTokenizer.PadId, device);          // (B, S)
        using var targetIn = TokenBatch.Pad([.. batch.Select(e => e.TargetInput)], GenerationTokenizer.PadId, device);   // (B, T)
        using var targetOut = TokenBatch.Pad([.. batch.Select(e => e.TargetOutput)], GenerationTokenizer.PadId, device); // (B, T)
        using var padding = model.PaddingMask(source);
        using var memory = model.Encode(source, padding);                                                                 // (B, S, D)
        using var hidden = model.Decode(targetIn, memory, padding);                                                       // (B, T, D)
        // Not model.forward: its (B, T, V) logits run to hundreds of MB with a translation vocabulary, which the C
        // allocator maps and the kernel zero-fills anew every step; projecting the unpadded positions in blocks keeps
        // every buffer small enough to be reused from step to step.
        return LabelSmoothedCrossEntropy.ComputeProjected(hidden, model.Project, targetOut, model.Config.VocabSize, smoothing,
            ignoreIndex: GenerationTokenizer.PadId);
    }

    private static void CheckIds(IReadOnlyList<(int[] Source, int[] Target)> pairs, int vocabSize, string name)
    {
        for (int i = 0; i < pairs.Count; i++)
        {
            foreach (int id in pairs[i].Source.Concat(pairs[i].Target))
            {
                if ((uint)id >= (uint)vocabSize)
                    throw new ArgumentException($"Pair {i} of {name} has token id {id}, outside the model's vocabulary (VocabSize = {vocabSize}).", name);
            }
        }
    }

    private sealed record Example(int[] Source, int[] TargetInput, int[] TargetOutput)
    {
        public static Example From((int[] Source, int[] Target) pair, int maxPositions)
        {
            int kept = Math.Min(pair.Target.Length, maxPositions - 1);
            var target = pair.Target.AsSpan(0, kept);
            return new Example(TokenBatch.SourceIds(pair.Source, maxPositions),
                [GenerationTokenizer.BosId, .. target], [.. target, GenerationTokenizer.EosId]);
        }
    }

    /// <summary>Translation as a training task: length-bucketed batches of pairs, validation cross-entropy as the metric.</summary>
    private sealed class TranslationTask(EncoderDecoderModel model, Example[] examples, Example[]? held, GenerativeTrainingOptions options)
        : TrainingTask(model, examples.Length, BatchCount(examples.Length, options.BatchSize),
            held is { Length: > 0 } ? ValidationMetric.Loss : null)
    {
        private readonly Random random = new(options.Seed);
        private const int WindowBatches = 50;
        private readonly int[] indices = [.. Enumerable.Range(0, examples.Length)];
        private readonly Device device = model.parameters().First().device;

        public override IReadOnlyList<MicroBatch> Epoch(int epoch) =>
            [.. LengthBuckets.Batches(indices, i => ((long)examples[i].Source.Length << 32) | (uint)examples[i].TargetInput.Length,
                    options.BatchSize, WindowBatches, random)
                .Select(rows => rows.Select(i => examples[i]).ToArray())
                .Select(batch => new MicroBatch(batch.Length, () => Loss(model, batch, options.Optimization.LabelSmoothing, device),
                    (start, end) => Part(batch[start..end]),
                    // Source and target are each padded to their longest in a part; their sum stands for its work.
                    [.. batch.Select(e => e.Source.Length + e.TargetInput.Length)]))];

        // The loss is a mean over the target tokens (padding ignored).
        private PartLoss Part(Example[] rows) =>
            new(Loss(model, rows, options.Optimization.LabelSmoothing, device), rows.Sum(e => (long)e.TargetOutput.Count(id => id != GenerationTokenizer.PadId)));

        public override double Validate() => ValidationLoss(model, held!, options, device);
    }
}
