using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Transformer.MLNet.Network.Export;
using Transformer.MLNet.Network.Tokenization;

namespace Transformer.MLNet.Onnx;

/// <summary>
/// An export folder opened for inference: its settings, its tokenizer and an ONNX Runtime session. Texts are
/// tokenized exactly as the model was trained, sorted by length into batches padded to their longest row, and run;
/// each row's output comes back in input order. Safe to call from several threads.
/// </summary>
internal sealed class OnnxExportSession : IDisposable
{
    private readonly InferenceSession _session;
    private long _truncatedTextCount;

    private OnnxExportSession(string folder, OnnxExportManifest manifest, BertTextTokenizer tokenizer, InferenceSession session)
    {
        Folder = folder;
        Manifest = manifest;
        Tokenizer = tokenizer;
        _session = session;
        OutputName = OnnxExportNames.MainOutput(manifest.Task);
    }

    /// <summary>The export folder.</summary>
    public string Folder { get; }

    /// <summary>The export's settings (<c>onnx_export.json</c>).</summary>
    public OnnxExportManifest Manifest { get; }

    /// <summary>The model's tokenizer, with the rules it was trained with.</summary>
    public BertTextTokenizer Tokenizer { get; }

    /// <summary>The graph output read: the pooled embedding, the logits or the regression score.</summary>
    public string OutputName { get; }

    /// <summary>Values per row of <see cref="OutputName"/>.</summary>
    public int RowSize => Manifest.Task == OnnxExportTask.TextRegression ? 1 : Manifest.OutputSize;

    /// <summary>Texts (or pairs) run so far that had more than the export's token limit and were cut.</summary>
    public long TruncatedTextCount => Interlocked.Read(ref _truncatedTextCount);

    /// <summary>Opens an export folder written by <c>ExportOnnx</c>.</summary>
    /// <param name="folder">The folder holding <c>model.onnx</c>, <c>vocab.txt</c> and <c>onnx_export.json</c>.</param>
    /// <param name="threads">ONNX Runtime's intra-op threads; 0 for its default (one per physical core).</param>
    /// <exception cref="DirectoryNotFoundException">The folder does not exist.</exception>
    /// <exception cref="FileNotFoundException">A file of the export is missing.</exception>
    /// <exception cref="InvalidDataException">The settings are malformed or do not match the vocabulary.</exception>
    /// <exception cref="NotSupportedException">The export is a token classifier, which this package does not run yet.</exception>
    public static OnnxExportSession Open(string folder, int threads)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(folder);
        if (!Directory.Exists(folder))
        {
            throw new DirectoryNotFoundException(
                $"ONNX export folder '{folder}' (modelFolder) does not exist. Write one with ExportOnnx(folder) on a fitted Transformer.MLNet transformer.");
        }

        foreach (string name in new[] { OnnxExportManifest.FileName, OnnxExportManifest.ModelFileName, OnnxExportManifest.VocabularyFileName })
        {
            if (!File.Exists(Path.Combine(folder, name)))
            {
                throw new FileNotFoundException(
                    $"'{folder}' (modelFolder) has no {name}; an export folder holds {OnnxExportManifest.ModelFileName}, " +
                    $"{OnnxExportManifest.VocabularyFileName} and {OnnxExportManifest.FileName}, as ExportOnnx(folder) writes them.",
                    Path.Combine(folder, name));
            }
        }

        var manifest = OnnxExportManifest.FromJson(File.ReadAllText(Path.Combine(folder, OnnxExportManifest.FileName)));
        if (manifest.Task == OnnxExportTask.TokenClassification)
        {
            throw new NotSupportedException(
                $"'{folder}' holds a token classifier; Transformer.MLNet.Onnx runs sentence embeddings, text classifiers and text " +
                "regression (cross-encoders). Run the token classifier with Transformer.MLNet (TorchSharp), or call its model.onnx " +
                "through ONNX Runtime directly.");
        }

        var tokenizer = BertTextTokenizer.LoadVocabulary(Path.Combine(folder, OnnxExportManifest.VocabularyFileName)).WithRules(manifest.TokenizationRules);
        using var options = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL };
        if (threads > 0)
            options.IntraOpNumThreads = threads;
        // Idle workers sleep instead of spinning, so that other work in the process (and other processes) keeps its cores.
        options.AddSessionConfigEntry("session.intra_op.allow_spinning", "0");
        InferenceSession session;
        try
        {
            session = new InferenceSession(Path.Combine(folder, OnnxExportManifest.ModelFileName), options);
        }
        catch (OnnxRuntimeException e)
        {
            throw new InvalidDataException($"ONNX Runtime cannot load '{Path.Combine(folder, OnnxExportManifest.ModelFileName)}': {e.Message}", e);
        }

        try
        {
            CheckGraph(folder, manifest, session);
            return new OnnxExportSession(folder, manifest, tokenizer, session);
        }
        catch
        {
            session.Dispose();
            throw;
        }
    }

    /// <summary>Runs single texts; one row of <see cref="RowSize"/> values per text, in order.</summary>
    public float[][] Run(IReadOnlyList<string> texts, int batchSize)
    {
        var ids = new int[texts.Count][];
        for (int i = 0; i < ids.Length; i++)
        {
            ids[i] = Tokenizer.EncodeToIds(texts[i], Manifest.MaxTokens, out bool cut);
            if (cut)
                Interlocked.Increment(ref _truncatedTextCount);
        }

        return RunIds(ids, secondStarts: null, batchSize);
    }

    /// <summary>Runs text pairs (<c>[CLS] a [SEP] b [SEP]</c>, the token budget shared as in training); one row per pair.</summary>
    public float[][] RunPairs(IReadOnlyList<string> texts, IReadOnlyList<string> secondTexts, int batchSize)
    {
        var ids = new int[texts.Count][];
        var starts = new int[texts.Count];
        for (int i = 0; i < ids.Length; i++)
        {
            ids[i] = Tokenizer.EncodePairToIds(texts[i], secondTexts[i], Manifest.MaxTokens, out bool cut, out starts[i]);
            if (cut)
                Interlocked.Increment(ref _truncatedTextCount);
        }

        return RunIds(ids, starts, batchSize);
    }

    public void Dispose() => _session.Dispose();

    private float[][] RunIds(int[][] ids, int[]? secondStarts, int batchSize)
    {
        var result = new float[ids.Length][];
        // Neighbours in length share a batch, so little compute goes to padding. Padding is masked, so in a float32
        // export a row's output does not depend on its batch (an int8 export quantizes activations per batch).
        int[] order = Enumerable.Range(0, ids.Length).OrderBy(i => ids[i].Length).ToArray();
        int size = RowSize;
        for (int start = 0; start < order.Length; start += batchSize)
        {
            var rows = order.AsSpan(start, Math.Min(batchSize, order.Length - start)).ToArray();
            var batch = new TokenizedBatch([.. rows.Select(r => ids[r])], Tokenizer.PadTokenId, truncatedCount: 0,
                secondStarts is null ? null : [.. rows.Select(r => secondStarts[r])]);
            int[] dims = [batch.Count, batch.SequenceLength];
            var inputs = new List<NamedOnnxValue>
            {
                NamedOnnxValue.CreateFromTensor(OnnxExportNames.InputIds, new DenseTensor<long>(batch.InputIds, dims)),
                NamedOnnxValue.CreateFromTensor(OnnxExportNames.AttentionMask, new DenseTensor<long>(batch.AttentionMask, dims)),
                NamedOnnxValue.CreateFromTensor(OnnxExportNames.TokenTypeIds, new DenseTensor<long>(batch.TokenTypeIds, dims)),
            };
            using var outputs = _session.Run(inputs, [OutputName]);
            var values = outputs[0].AsTensor<float>();
            if (values.Length != (long)rows.Length * size)
            {
                throw new InvalidDataException(
                    $"'{OutputName}' of '{Folder}' gave {values.Length} values for {rows.Length} rows; {OnnxExportManifest.FileName} says {size} per row.");
            }

            var flat = values.ToArray();
            for (int b = 0; b < rows.Length; b++)
            {
                var row = flat.AsSpan(b * size, size).ToArray();
                for (int j = 0; j < row.Length; j++)
                {
                    if (!float.IsFinite(row[j]))
                        throw new InvalidDataException($"'{Folder}' computed a non-finite value ({row[j]}) for a row; the model's weights are damaged.");
                }

                result[rows[b]] = row;
            }
        }

        return result;
    }

    private static void CheckGraph(string folder, OnnxExportManifest manifest, InferenceSession session)
    {
        foreach (string input in new[] { OnnxExportNames.InputIds, OnnxExportNames.AttentionMask, OnnxExportNames.TokenTypeIds })
        {
            if (!session.InputMetadata.ContainsKey(input))
            {
                throw new InvalidDataException(
                    $"'{folder}': model.onnx has no input '{input}' (inputs: {string.Join(", ", session.InputMetadata.Keys)}); it is not a Transformer.MLNet export.");
            }
        }

        if (session.InputMetadata.Count != 3)
        {
            throw new InvalidDataException(
                $"'{folder}': model.onnx reads {string.Join(", ", session.InputMetadata.Keys)}; a sentence encoder, text classifier or regressor reads only input_ids, attention_mask and token_type_ids.");
        }

        string output = OnnxExportNames.MainOutput(manifest.Task);
        if (!session.OutputMetadata.ContainsKey(output))
        {
            throw new InvalidDataException(
                $"'{folder}': {OnnxExportManifest.FileName} says {manifest.Task} but model.onnx has no output '{output}' (outputs: {string.Join(", ", session.OutputMetadata.Keys)}).");
        }

        // The export records the longest input it was written for; longer ones overrun the position table inside
        // ONNX Runtime with an error that names neither file nor setting.
        if (session.ModelMetadata.CustomMetadataMap.TryGetValue("max_tokens", out string? written)
            && int.TryParse(written, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int exported)
            && manifest.MaxTokens > exported)
        {
            throw new InvalidDataException(
                $"'{folder}': {OnnxExportManifest.FileName} has max_tokens {manifest.MaxTokens}, but model.onnx was exported for at most " +
                $"{exported} tokens; set max_tokens to {exported} or less, or export again.");
        }

        if (manifest.Task == OnnxExportTask.TextClassification && manifest.OutputSize < 2)
            throw new InvalidDataException($"'{folder}': a text classifier needs at least 2 classes; {OnnxExportManifest.FileName} says {manifest.OutputSize}.");
        if (manifest.Task == OnnxExportTask.TextClassification && manifest.Labels is { } labels && labels.Count != manifest.OutputSize)
            throw new InvalidDataException($"'{folder}': {OnnxExportManifest.FileName} names {labels.Count} classes for {manifest.OutputSize} logits.");
    }
}
