using System.Text.Json;
using TorchSharp;
using Transformer.MLNet.Network.Bert;
using Transformer.MLNet.Network.Configuration;
using Transformer.MLNet.Network.IO;
using Transformer.MLNet.Network.Metrics;
using Transformer.MLNet.Network.Pretrained;
using Transformer.MLNet.Network.Runtime;
using Transformer.MLNet.Network.Tokenization;
using static TorchSharp.torch;

namespace Transformer.MLNet.Network.TokenClassification;

/// <summary>
/// A token classifier behind a managed-array API: sentences as words in, one IOB2 tag per word and the entities out.
/// Each word is tokenized on its own; the label of a word is read from its first piece, so the pieces of one word never
/// get different labels, and decoding picks the most probable valid IOB2 sequence (<see cref="Iob2Decoder"/>).
/// Tokenizer, encoder and head are saved together and load with no code execution. Prediction is safe to call from
/// several threads. The head also sees each word's casing, which the uncased tokenizer drops.
/// </summary>
public sealed class TokenClassifier : IDisposable
{
    /// <summary>The head settings file of a saved token classifier folder (beside the Hugging Face files).</summary>
    public const string SettingsFile = "token_classifier.json";

    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true };

    private readonly Lock gate = new();
    private readonly UsageGuard lifetime = new(typeof(TokenClassifier));
    private readonly Iob2Decoder decoder;
    private readonly int outside;
    private long truncatedSentenceCount;

    private TokenClassifier(TokenClassifierModel model, BertTextTokenizer tokenizer, TokenClassifierSettings settings, Device device)
    {
        Model = model;
        Tokenizer = tokenizer;
        Settings = settings;
        Device = device;
        decoder = new Iob2Decoder(settings.Labels);
        outside = settings.Labels.ToList().IndexOf(EntitySpans.Outside);
        model.to(device);
        model.eval();
    }

    /// <summary>Head and input settings.</summary>
    public TokenClassifierSettings Settings { get; }

    /// <summary>The IOB2 tags, in the order of the head's outputs.</summary>
    public IReadOnlyList<string> Labels => Settings.Labels;

    /// <summary>The encoder's architecture.</summary>
    public TransformerConfig EncoderConfig => Model.EncoderConfig;

    /// <summary>The device the network runs on.</summary>
    public Device Device { get; }

    /// <summary>Sentences predicted so far with more word pieces than <see cref="TokenClassifierSettings.MaxTokens"/>; the words past the limit were tagged <c>O</c>.</summary>
    public long TruncatedSentenceCount => Interlocked.Read(ref truncatedSentenceCount);

    internal TokenClassifierModel Model { get; }

    internal BertTextTokenizer Tokenizer { get; }

    /// <summary>Serialises access to the module: training and prediction never overlap.</summary>
    internal Lock Gate => gate;

    /// <summary>Puts a fresh token-classification head on <paramref name="encoder"/> (which the classifier then owns).</summary>
    /// <param name="encoder">A pretrained encoder to fine-tune, or a freshly initialised one to train from scratch.</param>
    /// <param name="tokenizer">The tokenizer whose ids the encoder reads.</param>
    /// <param name="settings">Labels, max tokens and dropout.</param>
    /// <param name="device">Where to run; CPU when null.</param>
    public static TokenClassifier Create(BertModel encoder, BertTextTokenizer tokenizer, TokenClassifierSettings settings, Device? device = null)
    {
        ArgumentNullException.ThrowIfNull(encoder);
        ArgumentNullException.ThrowIfNull(tokenizer);
        ArgumentNullException.ThrowIfNull(settings);
        settings.Validate();
        if (tokenizer.VocabularySize > encoder.Config.VocabSize)
        {
            throw new ArgumentException(
                $"The tokenizer has {tokenizer.VocabularySize} tokens but the encoder's TransformerConfig.VocabSize is {encoder.Config.VocabSize}; " +
                "use a config whose VocabSize covers the vocabulary.", nameof(tokenizer));
        }

        if (settings.MaxTokens > encoder.Config.MaxPositions)
        {
            throw new ArgumentOutOfRangeException(nameof(settings), settings.MaxTokens,
                $"MaxTokens ({settings.MaxTokens}) exceeds the encoder's MaxPositions ({encoder.Config.MaxPositions}).");
        }

        var model = new TokenClassifierModel(encoder, settings.Labels.Count, settings.Dropout);   // no dispose scope: see the model's constructor
        return new TokenClassifier(model, tokenizer, settings, device ?? CPU);
    }

    /// <summary>Tags each sentence, in order.</summary>
    /// <param name="sentences">Sentences as words (see <see cref="WordSplitter"/> for raw text); an empty sentence gets no tags.</param>
    /// <param name="batchSize">Sentences per forward pass; sentences are grouped by length so that batches carry little padding.</param>
    public TaggedSentence[] Predict(IReadOnlyList<IReadOnlyList<string>> sentences, int batchSize = 32)
    {
        ArgumentNullException.ThrowIfNull(sentences);
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        var encoded = new EncodedSentence[sentences.Count];
        for (int i = 0; i < encoded.Length; i++)
            encoded[i] = Encode(sentences[i] ?? throw new ArgumentException($"Sentence {i} is null; pass an empty list for an empty sentence.", nameof(sentences)));
        Interlocked.Add(ref truncatedSentenceCount, encoded.Count(e => e.Truncated));

        var results = new TaggedSentence[encoded.Length];
        int[] order = Enumerable.Range(0, encoded.Length).OrderBy(i => encoded[i].Ids.Length).ToArray();
        using var use = lifetime.Enter();
        lock (gate)
        {
            using var noGrad = no_grad();
            Model.eval();
            // Several batches: the projection weights packed once for all of them, where that is faster on this CPU.
            using var packed = order.Length > batchSize ? Kernels.InferenceWeights.For(Model) : null;
            using var packs = packed?.Use();
            for (int start = 0; start < order.Length; start += batchSize)
            {
                using var scope = NewDisposeScope();
                var batch = order.AsSpan(start, Math.Min(batchSize, order.Length - start)).ToArray();
                var logProbabilities = WordLogProbabilities(batch.Select(i => encoded[i]).ToList());
                for (int b = 0; b < batch.Length; b++)
                    results[batch[b]] = Decode(logProbabilities[b]);
            }
        }

        return results;
    }

    /// <summary>Tokenizes a sentence's words and records where each word's label is read.</summary>
    internal EncodedSentence Encode(IReadOnlyList<string> words)
    {
        int[] ids = Tokenizer.EncodeWords(words, Settings.MaxTokens, out int[] firstPieces, out bool[] blank);
        var casing = new long[ids.Length];   // [CLS], [SEP]: special
        for (int w = 0; w < firstPieces.Length && firstPieces[w] >= 0; w++)
        {
            int end = w + 1 < firstPieces.Length && firstPieces[w + 1] >= 0 ? firstPieces[w + 1] : ids.Length - 1;
            Array.Fill(casing, WordCasing.Of(words[w]), firstPieces[w], end - firstPieces[w]);
        }

        return new EncodedSentence(ids, firstPieces, casing) { Blank = blank };
    }

    /// <summary>Runs the model on encoded sentences, padded to the longest one; the caller owns the scope.</summary>
    /// <returns>(B, T, L) logits on <see cref="Device"/>.</returns>
    internal Tensor Logits(IReadOnlyList<EncodedSentence> sentences)
    {
        var batch = new TokenizedBatch([.. sentences.Select(s => s.Ids)], Tokenizer.PadTokenId, truncatedCount: 0);
        long[] shape = [batch.Count, batch.SequenceLength];
        var inputIds = tensor(batch.InputIds, shape, device: Device);        // (B, T)
        var mask = tensor(batch.AttentionMask, shape, device: Device);       // (B, T)
        var types = tensor(batch.TokenTypeIds, shape, device: Device);       // (B, T)
        var casing = new long[batch.Count * batch.SequenceLength];          // padding: special
        for (int b = 0; b < sentences.Count; b++)
            sentences[b].Casing.CopyTo(casing, b * batch.SequenceLength);
        return Model.forward(inputIds, mask, types, tensor(casing, shape, device: Device));   // (B, T, L)
    }

    /// <summary>
    /// Positions of the words' first pieces in the flattened (B × T) logits of <see cref="Logits"/>, and for each
    /// sentence how many of its words have one (the words cut off by the token limit have none).
    /// </summary>
    internal static (long[] Positions, int[] Counts) FirstPiecePositions(IReadOnlyList<EncodedSentence> sentences)
    {
        int length = sentences.Max(s => s.Ids.Length);
        var positions = new List<long>();
        var counts = new int[sentences.Count];
        for (int b = 0; b < sentences.Count; b++)
        {
            foreach (int piece in sentences[b].FirstPieces)
            {
                if (piece < 0)
                    break;
                positions.Add((long)b * length + piece);
                counts[b]++;
            }
        }

        return ([.. positions], counts);
    }

    /// <summary>Log-probabilities of each label at each word's first piece, per sentence (word, label).</summary>
    private float[][][] WordLogProbabilities(IReadOnlyList<EncodedSentence> sentences)
    {
        var (positions, counts) = FirstPiecePositions(sentences);
        int labels = Labels.Count;
        float[] flat = [];
        if (positions.Length > 0)
        {
            var logits = Logits(sentences);                                                           // (B, T, L)
            var words = logits.reshape(-1, labels).index_select(0, tensor(positions, device: Device)); // (W, L)
            flat = words.log_softmax(-1).to(CPU).to_type(ScalarType.Float32).data<float>().ToArray();
        }

        var result = new float[sentences.Count][][];
        int row = 0;
        for (int b = 0; b < sentences.Count; b++)
        {
            int wordCount = sentences[b].FirstPieces.Length;
            result[b] = new float[wordCount][];
            for (int w = 0; w < wordCount; w++)
            {
                if (w < counts[b])
                    row++;
                if (w < counts[b] && !sentences[b].IsBlank(w))
                {
                    result[b][w] = flat.AsSpan((row - 1) * labels, labels).ToArray();
                }
                else
                {
                    // Past the token limit, or a word with no content (an empty string, a lone zero-width space): certainly
                    // outside, so that no entity starts, ends or is made of nothing.
                    var cut = Enumerable.Repeat(float.MinValue / 4, labels).ToArray();
                    cut[outside] = 0;
                    result[b][w] = cut;
                }
            }
        }

        return result;
    }

    private TaggedSentence Decode(float[][] logProbabilities)
    {
        int[] labels = decoder.Decode(logProbabilities);
        var probabilities = labels.Select((label, w) => MathF.Exp(logProbabilities[w][label])).ToArray();
        var entities = EntitySpans.FromIob2([.. labels.Select(l => Labels[l])])
            .Select(span => new TaggedEntity(span.Type, span.Start, span.End, probabilities.AsSpan(span.Start, span.End - span.Start).ToArray().Average()))
            .ToArray();
        return new TaggedSentence(labels, probabilities, entities);
    }

    /// <summary>
    /// Writes a Hugging Face style folder: <c>config.json</c>, <c>vocab.txt</c>, <c>model.safetensors</c> (encoder
    /// tensors under <c>bert.*</c>, head under <c>classifier.*</c>) and <c>token_classifier.json</c> (labels and settings).
    /// The folder also loads as an encoder with <see cref="PretrainedBert.LoadFolder"/>.
    /// </summary>
    /// <param name="folder">Created if missing.</param>
    /// <exception cref="ObjectDisposedException">The classifier has been disposed.</exception>
    public void Save(string folder)
    {
        using var use = lifetime.Enter();
        BertHeadFolder.Save(folder, SettingsFile, Settings, Json, EncoderConfig, Tokenizer, Model, gate);
    }

    /// <summary>Loads a token classifier written by <see cref="Save"/>: the network is built from the saved config, then filled strictly.</summary>
    /// <param name="folder">The folder.</param>
    /// <param name="device">Where to run; CPU when null.</param>
    /// <exception cref="InvalidDataException">A file is missing or does not match the others.</exception>
    public static TokenClassifier Load(string folder, Device? device = null)
    {
        var classifier = BertHeadFolder.Load<TokenClassifierSettings, TokenClassifier>(
            folder, SettingsFile, "token classifier", Json, settings => settings.Validate(),
            (encoder, tokenizer, settings) => Create(encoder, tokenizer, settings, CPU), loaded => loaded.Model);
        if (device is null || device.type == DeviceType.CPU)
            return classifier;
        return new TokenClassifier(classifier.Model, classifier.Tokenizer, classifier.Settings, device);
    }

    /// <summary>
    /// Exports the token classifier to ONNX (opset 17; inputs <c>input_ids</c>, <c>attention_mask</c>,
    /// <c>token_type_ids</c> and <c>casing_ids</c> (each piece's word casing class); output <c>logits</c> per token;
    /// dynamic batch and sequence axes), with <c>vocab.txt</c> and <c>onnx_export.json</c> (labels) beside it.
    /// </summary>
    /// <param name="folder">Created if missing; existing export files are replaced.</param>
    /// <returns>The settings written to <c>onnx_export.json</c>.</returns>
    public Export.OnnxExportManifest ExportOnnx(string folder)
    {
        using var use = lifetime.Enter();
        lock (gate)
            return Export.OnnxExporter.Export(folder, Model, Tokenizer, Settings);
    }

    /// <summary>Frees the network once running predictions have finished; later calls throw
    /// <see cref="ObjectDisposedException"/>. Calling it again does nothing.</summary>
    public void Dispose() => lifetime.Dispose(Model.Dispose);
}

/// <summary>A sentence's token ids, per word the position of its first piece (-1 past the token limit), and per token its word's casing.</summary>
internal sealed record EncodedSentence(int[] Ids, int[] FirstPieces, long[] Casing)
{
    /// <summary>Whether words were cut off by the token limit.</summary>
    public bool Truncated => FirstPieces.Length > 0 && FirstPieces[^1] < 0;

    /// <summary>Per word, whether it had no content and stands as a placeholder piece (empty when unknown).</summary>
    public bool[] Blank { get; init; } = [];

    /// <summary>Whether word <paramref name="word"/> had no content.</summary>
    public bool IsBlank(int word) => word < Blank.Length && Blank[word];
}
