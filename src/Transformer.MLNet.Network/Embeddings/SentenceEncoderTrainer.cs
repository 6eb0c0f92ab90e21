using TorchSharp;
using Transformer.MLNet.Network.Evaluation;
using Transformer.MLNet.Network.Modules;
using Transformer.MLNet.Network.Pretrained;
using Transformer.MLNet.Network.Tokenization;
using Transformer.MLNet.Network.Training;
using static TorchSharp.torch;

namespace Transformer.MLNet.Network.Embeddings;

/// <summary>
/// Fine-tunes a sentence encoder (a bi-encoder: each sentence embedded alone, pairs compared by cosine) on sentence
/// pairs, on the one <see cref="TrainingLoop"/>: pairs with a similarity score (CoSENT or cosine loss) or (anchor,
/// positive) pairs with in-batch negatives. The embedding is the mean of the token states, as
/// <see cref="SentenceEncoder"/> computes it with <see cref="Pooling.Mean"/>; validation is Spearman's ρ of the cosines.
/// </summary>
public static class SentenceEncoderTrainer
{
    /// <summary>
    /// The bi-encoder entry point: loads the encoder (the packaged MiniLM-L6 or a Hugging Face folder), moves it to
    /// <paramref name="device"/> and fine-tunes it.
    /// </summary>
    /// <param name="encoderFolder">A Hugging Face BERT folder to start from, or null for the packaged MiniLM-L6.</param>
    /// <param name="train">Training pairs; with scores unless the loss is multiple-negatives ranking.</param>
    /// <param name="options">Training settings.</param>
    /// <param name="validation">Optional scored pairs for early stopping and best-weight restore.</param>
    /// <param name="device">Where to train; null for the CPU.</param>
    /// <param name="cancellation">Stops training with <see cref="OperationCanceledException"/>.</param>
    /// <returns>The fine-tuned encoder (the caller owns it; it refers to no package, so it saves as weights) and what training did.</returns>
    public static (PretrainedBert Encoder, TrainingResult Result) Fit(
        string? encoderFolder, SentencePairs train, SentenceEncoderTrainingOptions options, SentencePairs? validation = null,
        Device? device = null, CancellationToken cancellation = default)
    {
        Check(train, options, validation);
        Seeding.Apply(options.Seed);
        var encoder = (encoderFolder is null ? PretrainedBert.LoadMiniLm() : PretrainedBert.LoadFolder(encoderFolder)).Detached();
        try
        {
            encoder.Model.to(device ?? CPU);
            return (encoder, Train(encoder, train, options, validation, cancellation));
        }
        catch
        {
            encoder.Dispose();
            throw;
        }
    }

    /// <summary>Fine-tunes <paramref name="encoder"/> in place.</summary>
    /// <param name="encoder">The encoder; its weights are updated (on the device they are on).</param>
    /// <param name="train">Training pairs.</param>
    /// <param name="options">Training settings.</param>
    /// <param name="validation">Optional scored pairs.</param>
    /// <param name="cancellation">Stops training with <see cref="OperationCanceledException"/>.</param>
    /// <returns>What training did; <see cref="TrainingResult.ValidationMetrics"/> are Spearman's ρ.</returns>
    public static TrainingResult Train(
        PretrainedBert encoder, SentencePairs train, SentenceEncoderTrainingOptions options, SentencePairs? validation = null,
        CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(encoder);
        Check(train, options, validation);
        if (options.MaxTokens > encoder.Config.MaxPositions)
            throw new ArgumentOutOfRangeException(nameof(options), options.MaxTokens, $"MaxTokens exceeds the encoder's {encoder.Config.MaxPositions} positions.");

        int truncated = 0;
        int[][] Tokenize(IReadOnlyList<string> sentences) => [.. sentences.Select(s =>
        {
            var ids = encoder.Tokenizer.EncodeToIds(s, options.MaxTokens, out bool cut);
            truncated += cut ? 1 : 0;
            return ids;
        })];

        var first = Tokenize(train.First);
        var second = Tokenize(train.Second);
        var task = new PairTask(encoder, first, second, train.Scores?.ToArray(), validation, options);
        var frozen = options.FreezeTokenEmbeddings
            ? encoder.Model.named_parameters().Single(p => p.name == "embeddings.word_embeddings.weight").parameter
            : null;
        frozen?.requires_grad_(false);
        try
        {
            var result = TrainingLoop.Run(task, options, cancellation);
            return result with { TruncatedExamples = truncated };
        }
        finally
        {
            frozen?.requires_grad_(true);
        }
    }

    /// <summary>Spearman's ρ between the cosine of each pair's embeddings and its gold score.</summary>
    /// <param name="encoder">The encoder.</param>
    /// <param name="pairs">Scored pairs.</param>
    /// <param name="maxTokens">Most tokens per sentence.</param>
    /// <returns>
    /// ρ; <see cref="double.NaN"/> when it is undefined: every cosine is the same, or one is not a number because the
    /// encoder's weights are (training records such a metric but never keeps it as the best).
    /// </returns>
    public static double Spearman(PretrainedBert encoder, SentencePairs pairs, int maxTokens = 128)
    {
        ArgumentNullException.ThrowIfNull(encoder);
        Check(pairs, SimilarityLoss.CoSent, nameof(pairs));
        CheckRankable(pairs, nameof(pairs));
        using var sentences = SentenceEncoder.FromPretrained(encoder, new SentenceEncoderOptions { MaxTokens = maxTokens, Threads = 1 });
        var a = sentences.Encode(pairs.First);
        var b = sentences.Encode(pairs.Second);
        var cosines = a.Select((row, i) => EmbeddingSimilarity.Cosine(row, b[i])).ToList();
        if (!cosines.TrueForAll(double.IsFinite))
            return double.NaN;
        return Correlation.Spearman(cosines, [.. pairs.Scores!.Select(s => (double)s)]);
    }

    /// <summary>Checks options and pairs before any weight is loaded or changed.</summary>
    private static void Check(SentencePairs train, SentenceEncoderTrainingOptions options, SentencePairs? validation)
    {
        ArgumentNullException.ThrowIfNull(train);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        Check(train, options.Loss, nameof(train));
        if (validation is not null)
        {
            Check(validation, SimilarityLoss.CoSent, nameof(validation));
            CheckRankable(validation, nameof(validation));
        }
    }

    /// <summary>
    /// Spearman's ρ, the validation metric of every loss, needs at least two pairs whose scores are not all the same;
    /// otherwise it is undefined and would only fail (or be NaN) after a whole epoch of training.
    /// </summary>
    private static void CheckRankable(SentencePairs pairs, string name)
    {
        if (pairs.Count < 2)
        {
            throw new ArgumentException(
                $"{name} holds {pairs.Count} scored pair; Spearman's ρ needs at least 2 pairs with different scores. Give more pairs.", name);
        }

        var scores = pairs.Scores!;
        if (scores.All(score => score == scores[0]))
        {
            throw new ArgumentException(
                $"{name}: every pair has the same score ({scores[0]}), so Spearman's ρ is undefined; give pairs with different scores.", name);
        }
    }

    private static void Check(SentencePairs pairs, SimilarityLoss loss, string name)
    {
        ArgumentNullException.ThrowIfNull(pairs, name);
        ArgumentNullException.ThrowIfNull(pairs.First, name);
        ArgumentNullException.ThrowIfNull(pairs.Second, name);
        if (pairs.Count == 0)
            throw new ArgumentException($"{name} holds no sentence pairs.", name);
        if (pairs.Second.Count != pairs.Count)
            throw new ArgumentException($"{name} has {pairs.Count} first sentences but {pairs.Second.Count} second sentences; give one per pair.", name);
        for (int i = 0; i < pairs.Count; i++)
        {
            if (pairs.First[i] is null || pairs.Second[i] is null)
                throw new ArgumentException($"{name}: the {(pairs.First[i] is null ? "first" : "second")} sentence of pair {i} is null.", name);
        }

        if (loss == SimilarityLoss.MultipleNegativesRanking)
            return;
        var scores = pairs.Scores ?? throw new ArgumentException($"{name} has no scores; {loss} loss and validation need a gold score per pair.", name);
        if (scores.Count != pairs.Count)
            throw new ArgumentException($"{name} has {pairs.Count} pairs but {scores.Count} scores; give one score per pair.", name);
        for (int i = 0; i < scores.Count; i++)
        {
            if (!float.IsFinite(scores[i]))
                throw new ArgumentOutOfRangeException(name, scores[i], $"{name}: the score of pair {i} is {scores[i]}; every score must be a finite number.");
            if (loss == SimilarityLoss.Cosine && scores[i] is < -1 or > 1)
            {
                throw new ArgumentOutOfRangeException(name, scores[i],
                    $"{name}: the score of pair {i} is {scores[i]}, outside [-1, 1], the range of a cosine; rescale the scores (e.g. divide 0-5 ratings by 5) or use CoSENT.");
            }
        }
    }

    /// <summary>Pairs as a training task: each micro-batch embeds both sides in one forward pass and applies the loss.</summary>
    private sealed class PairTask(
        PretrainedBert encoder, int[][] first, int[][] second, float[]? scores, SentencePairs? validation, SentenceEncoderTrainingOptions options)
        : TrainingTask(encoder.Model, first.Length, BatchCount(first.Length, options.BatchSize),
            validation is null ? null : ValidationMetric.Spearman)
    {
        private readonly Random random = new(options.Seed);
        private readonly Device device = encoder.Model.parameters().First().device;

        public override IReadOnlyList<MicroBatch> Epoch(int epoch)
        {
            int[] order = Enumerable.Range(0, first.Length).ToArray();
            random.Shuffle(order);
            // In-batch negatives need company: a last batch of one pair has none, so it joins the batch before it.
            var batches = order.Chunk(options.BatchSize).ToList();
            if (options.Loss == SimilarityLoss.MultipleNegativesRanking && batches.Count > 1 && batches[^1].Length < 2)
            {
                batches[^2] = [.. batches[^2], .. batches[^1]];
                batches.RemoveAt(batches.Count - 1);
            }

            return [.. batches.Select(rows => new MicroBatch(rows.Length, () => Loss(rows)))];
        }

        public override double Validate() => Spearman(encoder, validation!, options.MaxTokens);

        private Tensor Loss(int[] rows)
        {
            var ids = rows.Select(r => first[r]).Concat(rows.Select(r => second[r])).ToList();
            var batch = new TokenizedBatch(ids, encoder.Tokenizer.PadTokenId, truncatedCount: 0);
            long[] shape = [batch.Count, batch.SequenceLength];
            var inputIds = tensor(batch.InputIds, shape, device: device);                       // (2B, T)
            var mask = tensor(batch.AttentionMask, shape, device: device);                      // (2B, T)
            var types = tensor(batch.TokenTypeIds, shape, device: device);                      // (2B, T)
            var hidden = encoder.Model.forward(inputIds, mask, types).to_type(ScalarType.Float32);   // (2B, T, D)
            var embeddings = nn.functional.normalize(TokenPooling.Mean(hidden, mask), p: 2, dim: 1, eps: 1e-12);   // (2B, D)
            int n = rows.Length;
            var a = embeddings.narrow(0, 0, n);                                                 // (B, D)
            var b = embeddings.narrow(0, n, n);                                                 // (B, D)
            switch (options.Loss)
            {
                case SimilarityLoss.MultipleNegativesRanking:
                    var logits = a.matmul(b.t()) * options.Scale;                                  // (B, B): row i's positive is column i
                    return nn.functional.cross_entropy(logits, arange(n, dtype: ScalarType.Int64, device: device));
                case SimilarityLoss.Cosine:
                    var target = tensor(rows.Select(r => scores![r]).ToArray(), device: device);   // (B)
                    return nn.functional.mse_loss((a * b).sum(1), target);
                default:
                    return CoSent((a * b).sum(1) * options.Scale, rows);
            }
        }

        /// <summary>log(1 + Σ exp(s_j − s_i)) over the pairs i rated above j, as a log-sum-exp with a leading 0.</summary>
        private Tensor CoSent(Tensor scaled, int[] rows)
        {
            var gold = tensor(rows.Select(r => scores![r]).ToArray(), device: device);          // (B)
            var differences = scaled.unsqueeze(0) - scaled.unsqueeze(1);                         // (B, B): [i, j] = s_j - s_i
            var ranked = gold.unsqueeze(1).gt(gold.unsqueeze(0));                                // (B, B): gold_i > gold_j
            var terms = differences.masked_fill(ranked.logical_not(), -1e12).flatten();          // (B*B)
            return cat([zeros(1, device: device), terms]).logsumexp(0);
        }
    }
}
