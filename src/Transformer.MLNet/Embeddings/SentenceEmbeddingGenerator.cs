using Microsoft.Extensions.AI;
using TorchSharp;
using Transformer.MLNet.Encoders;
using Transformer.MLNet.Serving;

namespace Transformer.MLNet.Embeddings;

/// <summary>
/// Our sentence encoder as a <c>Microsoft.Extensions.AI</c> <see cref="IEmbeddingGenerator{TInput, TEmbedding}"/>, the
/// abstraction Semantic Kernel and <c>Microsoft.Extensions.VectorData</c> stores consume. It wraps a fitted or loaded
/// <see cref="SentenceEmbeddingTransformer"/> (so a pipeline's own featurizer serves the same vectors), or the built-in
/// pretrained MiniLM-L6 (<see cref="Create"/>). Vectors are exactly those of <c>ApplySentenceEmbedding</c> on the same
/// texts in the same order.
/// </summary>
/// <remarks>
/// Safe to share between threads: forward passes go through a <see cref="ForwardPassGate"/> (one of its own, or one
/// shared with the other models of the process), and run on the thread pool. Texts are encoded in windows of the
/// transformer's read-ahead size; cancellation is honoured while waiting for the gate and between windows.
/// </remarks>
public sealed class SentenceEmbeddingGenerator : IEmbeddingGenerator<string, Embedding<float>>
{
    /// <summary>The provider name in <see cref="Metadata"/>.</summary>
    public const string ProviderName = "Transformer.MLNet";

    private readonly SentenceEmbeddingTransformer _transformer;
    private readonly bool _ownsTransformer;
    private readonly ForwardPassGate _gate;
    private readonly bool _ownsGate;
    private int _disposed;

    /// <summary>Serves the vectors of a fitted or loaded embedding transformer, which stays the caller's to dispose.</summary>
    /// <param name="transformer">A fitted <c>ApplySentenceEmbedding</c> transformer, or one taken from a loaded pipeline.</param>
    /// <param name="modelId">The model id reported in <see cref="Metadata"/> and on each embedding; null: the encoder's
    /// architecture name (<c>MiniLM-L6</c> for the built-in model).</param>
    /// <param name="gate">Bounds forward passes across the models of the process; null: a gate of its own, one pass at a time.</param>
    public SentenceEmbeddingGenerator(SentenceEmbeddingTransformer transformer, string? modelId = null, ForwardPassGate? gate = null)
        : this(transformer, ownsTransformer: false, modelId, gate)
    {
    }

    private SentenceEmbeddingGenerator(SentenceEmbeddingTransformer transformer, bool ownsTransformer, string? modelId, ForwardPassGate? gate)
    {
        ArgumentNullException.ThrowIfNull(transformer);
        _transformer = transformer;
        _ownsTransformer = ownsTransformer;
        _ownsGate = gate is null;
        _gate = gate ?? new ForwardPassGate();
        Metadata = new EmbeddingGeneratorMetadata(ProviderName, providerUri: null, modelId ?? transformer.Model.Config.Name, transformer.Dimension);
    }

    /// <summary>Provider name, model id and dimensions (also what <see cref="GetService"/> returns for
    /// <see cref="EmbeddingGeneratorMetadata"/>).</summary>
    public EmbeddingGeneratorMetadata Metadata { get; }

    /// <summary>Length of each embedding.</summary>
    public int Dimension => _transformer.Dimension;

    /// <summary>
    /// A generator over the built-in pretrained MiniLM-L6 (or <see cref="SentenceEmbeddingOptions.EncoderFolder"/>) on the
    /// CPU; it owns the encoder and releases it on <see cref="Dispose"/>.
    /// </summary>
    /// <param name="options">Pooling, normalisation, max tokens, batch size, tokenization rules; null: the defaults of
    /// <c>ApplySentenceEmbedding</c> (mean pooling, normalised, 256 tokens, batches of 32). Column names are not used.</param>
    /// <param name="modelId">The model id reported; null: the encoder's architecture name.</param>
    /// <param name="gate">Bounds forward passes across the models of the process; null: a gate of its own.</param>
    public static SentenceEmbeddingGenerator Create(SentenceEmbeddingOptions? options = null, string? modelId = null, ForwardPassGate? gate = null)
    {
        options ??= new SentenceEmbeddingOptions();
        options.Validate();
        var transformer = EncoderLoader.ForEmbedding(options, options.InputColumnName ?? options.OutputColumnName, torch.CPU);
        return new SentenceEmbeddingGenerator(transformer, ownsTransformer: true, modelId, gate);
    }

    /// <summary>Embeds <paramref name="values"/>, one embedding per text in input order.</summary>
    /// <param name="values">The texts (none null). Longer ones are cut to the transformer's max tokens.</param>
    /// <param name="options">Null, or options whose <see cref="EmbeddingGenerationOptions.Dimensions"/> and
    /// <see cref="EmbeddingGenerationOptions.ModelId"/>, if set, match <see cref="Metadata"/>.</param>
    /// <param name="cancellationToken">Stops the work between windows of texts and while waiting for the gate.</param>
    /// <exception cref="ArgumentException">A text is null, or the options ask for another size or model.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> fired.</exception>
    public async Task<GeneratedEmbeddings<Embedding<float>>> GenerateAsync(
        IEnumerable<string> values, EmbeddingGenerationOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(values);
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        CheckOptions(options);
        var texts = values as IReadOnlyList<string> ?? values.ToList();
        for (int i = 0; i < texts.Count; i++)
        {
            if (texts[i] is null)
                throw new ArgumentException($"Text {i} is null; pass an empty string for an empty text.", nameof(values));
        }

        cancellationToken.ThrowIfCancellationRequested();
        var result = new GeneratedEmbeddings<Embedding<float>>(texts.Count);
        var created = DateTimeOffset.UtcNow;
        // The ML.NET transformer's read-ahead window: the same texts share a window, so the same batches run and the
        // vectors are identical to the transformer's; a window is also the unit of cancellation.
        int window = _transformer.ReadAheadRows;
        for (int start = 0; start < texts.Count; start += window)
        {
            var chunk = Slice(texts, start, Math.Min(window, texts.Count - start));
            float[][] vectors;
            using (await _gate.EnterAsync(cancellationToken).ConfigureAwait(false))
            {
                cancellationToken.ThrowIfCancellationRequested();
                vectors = await Task.Run(() => _transformer.Encode(chunk), CancellationToken.None).ConfigureAwait(false);
            }

            foreach (var vector in vectors)
                result.Add(new Embedding<float>(vector) { ModelId = Metadata.DefaultModelId, CreatedAt = created });
        }

        return result;
    }

    /// <summary>
    /// <see cref="EmbeddingGeneratorMetadata"/> for that type; this generator for its own type or an interface it
    /// implements; the wrapped <see cref="SentenceEmbeddingTransformer"/> for that type; otherwise null (always null
    /// when <paramref name="serviceKey"/> is set).
    /// </summary>
    /// <param name="serviceType">The type asked for.</param>
    /// <param name="serviceKey">A key; this generator has no keyed services.</param>
    public object? GetService(Type serviceType, object? serviceKey = null)
    {
        ArgumentNullException.ThrowIfNull(serviceType);
        if (serviceKey is not null)
            return null;
        if (serviceType == typeof(EmbeddingGeneratorMetadata))
            return Metadata;
        if (serviceType.IsInstanceOfType(this))
            return this;
        return serviceType.IsInstanceOfType(_transformer) ? _transformer : null;
    }

    /// <summary>Releases the encoder if this generator loaded it (<see cref="Create"/>), and its own gate. Call it once no
    /// <see cref="GenerateAsync"/> is running; calling it again does nothing.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
            return;
        if (_ownsTransformer)
            _transformer.Dispose();
        if (_ownsGate)
            _gate.Dispose();
    }

    private void CheckOptions(EmbeddingGenerationOptions? options)
    {
        if (options?.Dimensions is { } dimensions && dimensions != Dimension)
        {
            throw new ArgumentException(
                $"EmbeddingGenerationOptions.Dimensions is {dimensions}, but this encoder makes {Dimension}-dimensional embeddings; leave Dimensions null or set it to {Dimension}.",
                nameof(options));
        }

        if (options?.ModelId is { } modelId && !string.Equals(modelId, Metadata.DefaultModelId, StringComparison.Ordinal))
        {
            throw new ArgumentException(
                $"EmbeddingGenerationOptions.ModelId is '{modelId}', but this generator serves '{Metadata.DefaultModelId}' only; leave ModelId null or create a generator for that model.",
                nameof(options));
        }
    }

    private static IReadOnlyList<string> Slice(IReadOnlyList<string> texts, int start, int count)
    {
        if (start == 0 && count == texts.Count)
            return texts;
        var slice = new string[count];
        for (int i = 0; i < count; i++)
            slice[i] = texts[start + i];
        return slice;
    }
}
