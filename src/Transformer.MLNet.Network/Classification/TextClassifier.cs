using System.Text.Json;
using System.Text.Json.Serialization;
using TorchSharp;
using Transformer.MLNet.Network.Bert;
using Transformer.MLNet.Network.Configuration;
using Transformer.MLNet.Network.IO;
using Transformer.MLNet.Network.Pretrained;
using Transformer.MLNet.Network.Runtime;
using Transformer.MLNet.Network.Tokenization;
using static TorchSharp.torch;

namespace Transformer.MLNet.Network.Classification;

/// <summary>
/// A text classifier behind a managed-array API: texts in, class logits out. Tokenizer, encoder and head travel
/// together, are saved together and load with no code execution (JSON settings, a vocabulary and tensors).
/// Prediction is safe to call from several threads.
/// </summary>
public sealed class TextClassifier : IDisposable
{
    /// <summary>The head settings file of a saved classifier folder (beside the Hugging Face files).</summary>
    public const string SettingsFile = "classifier.json";

    private static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        Converters = { new JsonStringEnumConverter() },
    };

    private readonly Lock gate = new();
    private readonly UsageGuard lifetime = new(typeof(TextClassifier));
    private long truncatedTextCount;

    private TextClassifier(SequenceClassifier model, BertTextTokenizer tokenizer, TextClassifierSettings settings, Device device)
    {
        Model = model;
        Tokenizer = tokenizer;
        Settings = settings;
        Device = device;
        model.to(device);
        model.eval();
    }

    /// <summary>Head and input settings.</summary>
    public TextClassifierSettings Settings { get; }

    /// <summary>Number of classes.</summary>
    public int ClassCount => Settings.ClassCount;

    /// <summary>The encoder's architecture.</summary>
    public TransformerConfig EncoderConfig => Model.EncoderConfig;

    /// <summary>The device the network runs on.</summary>
    public Device Device { get; }

    /// <summary>
    /// Texts predicted so far that had more than <see cref="TextClassifierSettings.MaxTokens"/> tokens and were cut
    /// (the first tokens are kept). Empty or null text is read as <c>[CLS] [SEP]</c>.
    /// </summary>
    public long TruncatedTextCount => Interlocked.Read(ref truncatedTextCount);

    internal SequenceClassifier Model { get; }

    internal BertTextTokenizer Tokenizer { get; }

    /// <summary>Serialises access to the module: training and prediction never overlap.</summary>
    internal Lock Gate => gate;

    /// <summary>Puts a fresh classification head on <paramref name="encoder"/> (which the classifier then owns).</summary>
    /// <param name="encoder">A pretrained encoder to fine-tune, or a freshly initialised one to train from scratch.</param>
    /// <param name="tokenizer">The tokenizer whose ids the encoder reads.</param>
    /// <param name="settings">Classes, max tokens and dropout.</param>
    /// <param name="device">Where to run; CPU when null.</param>
    public static TextClassifier Create(BertModel encoder, BertTextTokenizer tokenizer, TextClassifierSettings settings, Device? device = null)
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

        using var scope = NewDisposeScope();
        var model = new SequenceClassifier(encoder, settings.ClassCount, settings.Dropout);
        return new TextClassifier(model, tokenizer, settings, device ?? CPU);
    }

    /// <summary>Class logits of each text, in order (row i, class j); for a regression head, the one standardised output.</summary>
    /// <param name="texts">Texts; null entries are read as empty.</param>
    /// <param name="batchSize">Texts per forward pass; texts are grouped by length so that batches carry little padding.</param>
    public float[][] PredictLogits(IReadOnlyList<string> texts, int batchSize = 32) => PredictLogits(texts, null, batchSize);

    /// <summary>Logits of each text or text pair, in order (row i, output j).</summary>
    /// <param name="texts">Texts, or each pair's first text; null entries are read as empty.</param>
    /// <param name="secondTexts">Each pair's second text when <see cref="TextClassifierSettings.Pairs"/>; null otherwise.</param>
    /// <param name="batchSize">Inputs per forward pass; inputs are grouped by length so that batches carry little padding.</param>
    /// <exception cref="ArgumentException">Pairs given to a single-text model or the reverse, counts differ, or a second text is null.</exception>
    public float[][] PredictLogits(IReadOnlyList<string> texts, IReadOnlyList<string>? secondTexts, int batchSize = 32)
    {
        ArgumentNullException.ThrowIfNull(texts);
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        var inputs = Encode(texts, secondTexts, nameof(secondTexts), out int truncated);
        Interlocked.Add(ref truncatedTextCount, truncated);
        int[] order = Enumerable.Range(0, inputs.Length).OrderBy(i => inputs[i].Ids.Length).ToArray();
        int outputs = Model.ClassCount;
        var rows = new float[inputs.Length][];
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
                var logits = Logits(batch.Select(i => inputs[i]).ToList()).to(CPU).to_type(ScalarType.Float32);  // (B, C)
                float[] flat = logits.data<float>().ToArray();
                for (int b = 0; b < batch.Length; b++)
                    rows[batch[b]] = flat.AsSpan(b * outputs, outputs).ToArray();
            }
        }

        return rows;
    }

    /// <summary>
    /// The regression head's prediction for each text or pair, in the training targets' units (e.g. a 0–5 similarity
    /// for a cross-encoder trained on STS-B).
    /// </summary>
    /// <param name="texts">Texts, or each pair's first text.</param>
    /// <param name="secondTexts">Each pair's second text when <see cref="TextClassifierSettings.Pairs"/>; null otherwise.</param>
    /// <param name="batchSize">Inputs per forward pass.</param>
    /// <exception cref="InvalidOperationException">The model is a classifier.</exception>
    public float[] PredictScores(IReadOnlyList<string> texts, IReadOnlyList<string>? secondTexts = null, int batchSize = 32)
    {
        if (!Settings.Regression)
            throw new InvalidOperationException("PredictScores needs a regression head; this model is a classifier (use PredictLogits).");
        return [.. PredictLogits(texts, secondTexts, batchSize).Select(row => ToTarget(row[0]))];
    }

    /// <summary>The regression head's standardised output in the targets' units.</summary>
    internal float ToTarget(float output) => (float)(output * Settings.TargetScale + Settings.TargetMean);

    /// <summary>Tokenizes texts or pairs as this model reads them; counts the inputs cut to <see cref="TextClassifierSettings.MaxTokens"/>.</summary>
    internal EncodedText[] Encode(IReadOnlyList<string> texts, IReadOnlyList<string>? secondTexts, string secondName, out int truncated)
    {
        ArgumentNullException.ThrowIfNull(texts);
        if (Settings.Pairs && secondTexts is null)
            throw new ArgumentException("This model reads text pairs: give the second text of every pair.", secondName);
        if (!Settings.Pairs && secondTexts is not null)
            throw new ArgumentException("This model reads single texts, not pairs: train it on pairs to score pairs.", secondName);
        if (secondTexts is not null && secondTexts.Count != texts.Count)
            throw new ArgumentException($"{texts.Count} first texts but {secondTexts.Count} second texts; give one second text per pair.", secondName);
        var inputs = new EncodedText[texts.Count];
        truncated = 0;
        for (int i = 0; i < inputs.Length; i++)
        {
            bool cut;
            if (secondTexts is null)
            {
                var ids = Tokenizer.EncodeToIds(texts[i] ?? string.Empty, Settings.MaxTokens, out cut);
                inputs[i] = new EncodedText(ids, ids.Length);
            }
            else
            {
                var second = secondTexts[i] ?? throw new ArgumentException($"The second text of pair {i} is null; every pair needs a second text.", secondName);
                var ids = Tokenizer.EncodePairToIds(texts[i] ?? string.Empty, second, Settings.MaxTokens, out cut, out int secondStart);
                inputs[i] = new EncodedText(ids, secondStart);
            }

            truncated += cut ? 1 : 0;
        }

        return inputs;
    }

    /// <summary>Runs the model on tokenized inputs, padded to the longest one; the caller owns the scope.</summary>
    /// <returns>(B, C) logits on <see cref="Device"/>.</returns>
    internal Tensor Logits(IReadOnlyList<EncodedText> inputs)
    {
        var batch = new TokenizedBatch([.. inputs.Select(x => x.Ids)], Tokenizer.PadTokenId, truncatedCount: 0, [.. inputs.Select(x => x.SecondStart)]);
        long[] shape = [batch.Count, batch.SequenceLength];
        var inputIds = tensor(batch.InputIds, shape, device: Device);        // (B, T)
        var mask = tensor(batch.AttentionMask, shape, device: Device);       // (B, T)
        var types = tensor(batch.TokenTypeIds, shape, device: Device);       // (B, T)
        return Model.forward(inputIds, mask, types);                        // (B, C)
    }

    /// <summary>
    /// Writes a Hugging Face style folder: <c>config.json</c>, <c>vocab.txt</c>, <c>model.safetensors</c> (encoder
    /// tensors under <c>bert.*</c>, head under <c>classifier.*</c>) and <c>classifier.json</c> (head settings). The folder
    /// also loads as an encoder with <see cref="PretrainedBert.LoadFolder"/> (e.g. for sentence embeddings).
    /// </summary>
    /// <param name="folder">Created if missing.</param>
    /// <exception cref="ObjectDisposedException">The classifier has been disposed.</exception>
    public void Save(string folder)
    {
        using var use = lifetime.Enter();
        BertHeadFolder.Save(folder, SettingsFile, Settings, Json, EncoderConfig, Tokenizer, Model, gate);
    }

    /// <summary>Loads a classifier written by <see cref="Save"/>: the network is built from the saved config, then filled strictly.</summary>
    /// <param name="folder">The folder.</param>
    /// <param name="device">Where to run; CPU when null.</param>
    /// <exception cref="InvalidDataException">A file is missing or does not match the others.</exception>
    public static TextClassifier Load(string folder, Device? device = null)
    {
        var classifier = BertHeadFolder.Load<TextClassifierSettings, TextClassifier>(
            folder, SettingsFile, "classifier", Json, settings => settings.Validate(),
            (encoder, tokenizer, settings) => Create(encoder, tokenizer, settings, CPU), loaded => loaded.Model);
        if (device is null || device.type == DeviceType.CPU)
            return classifier;
        return new TextClassifier(classifier.Model, classifier.Tokenizer, classifier.Settings, device);
    }

    /// <summary>
    /// Exports the classifier (or regression head) to ONNX (opset 17; inputs <c>input_ids</c>, <c>attention_mask</c>,
    /// <c>token_type_ids</c>; output <c>logits</c>, and <c>score</c> in the targets' units for a regression head;
    /// dynamic batch and sequence axes), with <c>vocab.txt</c> and <c>onnx_export.json</c> beside it.
    /// </summary>
    /// <param name="folder">Created if missing; existing export files are replaced.</param>
    /// <param name="classNames">A classifier's class names in the order of its logits, written to the settings so that
    /// the exported model predicts named labels; null to write none (a binary classifier needs none).</param>
    /// <returns>The settings written to <c>onnx_export.json</c>.</returns>
    /// <exception cref="ArgumentException"><paramref name="classNames"/> does not name every class, or the model is a regressor.</exception>
    public Export.OnnxExportManifest ExportOnnx(string folder, IReadOnlyList<string>? classNames = null)
    {
        if (classNames is not null && (Settings.Regression || classNames.Count != ClassCount))
        {
            throw new ArgumentException(
                $"{classNames.Count} class names for a {(Settings.Regression ? "regression head" : $"{ClassCount}-class classifier")}; name each class once, or pass null.",
                nameof(classNames));
        }

        using var use = lifetime.Enter();
        lock (gate)
            return Export.OnnxExporter.Export(folder, Model, Tokenizer, Settings, classNames);
    }

    /// <summary>Frees the network once running predictions have finished; later calls throw
    /// <see cref="ObjectDisposedException"/>. Calling it again does nothing.</summary>
    public void Dispose() => lifetime.Dispose(Model.Dispose);
}
