using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.ML;
using TorchSharp;
using Transformer.MLNet.Classification;
using Transformer.MLNet.Embeddings;
using Transformer.MLNet.Network.Configuration;
using Transformer.MLNet.Network.Embeddings;
using Transformer.MLNet.Network.Export;
using Transformer.MLNet.Network.Generation;
using Transformer.MLNet.Network.Models;
using Transformer.MLNet.Network.Modules;
using Transformer.MLNet.Network.Pretrained;
using Transformer.MLNet.Network.Tokenization;
using Transformer.MLNet.Onnx;
using Transformer.MLNet.Persistence;
using Transformer.MLNet.Similarity;
using Transformer.MLNet.TextGeneration;
using Transformer.MLNet.TokenClassification;
using Transformer.MLNet.Translation;

namespace Transformer.MLNet.Tests.Documentation;

/// <summary>
/// The C# snippets of README.md, line for line, so the build proves they compile;
/// <see cref="ReadmeSnippetsTests"/> checks that every README line is here.
/// </summary>
internal static class ReadmeSnippets
{
    public static void NamedEntities(MLContext mlContext, IDataView nerTrainSet, IDataView nerTestSet)
    {
        var tagger = mlContext.Transforms.Conversion.MapValueToKey("Label", "Tags")
            .Append(mlContext.MulticlassClassification.Trainers.TokenClassifier(new TokenClassifierOptions
            {
                TextColumnName = "Words", LabelColumnName = "Label", Epochs = 6, TimeBudget = TimeSpan.FromMinutes(18),
            }));
        var nerModel = tagger.Fit(nerTrainSet);
        var scores = mlContext.MulticlassClassification.EvaluateEntities(nerModel.Transform(nerTestSet));
        Console.WriteLine($"entity F1 {scores.Micro.F1:F3}, PER {scores.PerType["PER"].F1:F3}");
        var entities = nerModel.LastTransformer.FindEntities(["Maria Fernández flew to São Paulo."]);   // Entity(Type, Start, End, Text, Score)
    }

    public static void EmbeddingsAndPersistence(IDataView trainSet, IDataView testSet)
    {
        var mlContext = new MLContext(seed: 0);
        var pipeline = mlContext.Transforms.Text.ApplySentenceEmbedding("Features", "Text")   // mean pooling, L2-normalised
            .AppendCacheCheckpoint(mlContext)
            .Append(mlContext.BinaryClassification.Trainers.SdcaLogisticRegression());
        var model = pipeline.Fit(trainSet);
        var metrics = mlContext.BinaryClassification.Evaluate(model.Transform(testSet));

        mlContext.Model.SavePipeline(model, trainSet.Schema, "sentiment.zip");
        var loaded = new MLContext().Model.LoadPipeline("sentiment.zip", out var inputSchema);
        _ = (metrics, loaded, inputSchema);

        var sameAsPackage = mlContext.Transforms.Text.ApplySentenceEmbedding(new SentenceEmbeddingOptions
        {
            OutputColumnName = "Features", InputColumnName = "Text", TokenizationRules = BertTokenizationRules.MiniLmPackage,
        });
        _ = sameAsPackage;
    }

    public static async Task Serving(IServiceCollection services, IEnumerable<ITransformer> loaded, CancellationToken token)
    {
        using IEmbeddingGenerator<string, Embedding<float>> generator = SentenceEmbeddingGenerator.Create();   // pretrained MiniLM-L6
        var embeddings = await generator.GenerateAsync(["A man is playing a guitar.", "Someone plays music."], cancellationToken: token);
        var metadata = generator.GetService<EmbeddingGeneratorMetadata>();   // "Transformer.MLNet", model id, 384 dimensions

        services.AddSentenceEmbeddingGenerator();                            // resolvable as IEmbeddingGenerator<string, Embedding<float>>
        services.AddSentenceEmbeddingGenerator(_ => loaded.OfType<SentenceEmbeddingTransformer>().First());   // a loaded pipeline's featurizer
        _ = (embeddings, metadata);
    }

    public static void Classifiers()
    {
        var mlContext = new MLContext(seed: 0);
        var binary = mlContext.BinaryClassification.Trainers.TextClassifier(new TextClassifierOptions
        {
            TextColumnName = "Text", Epochs = 4, BatchSize = 16, LearningRate = 1e-4, MaxTokens = 64,
        });
        // Score, Probability and a Boolean PredictedLabel: BinaryClassification.Evaluate works as is.

        var multiclass = mlContext.Transforms.Conversion.MapValueToKey("Label")
            .Append(mlContext.MulticlassClassification.Trainers.TextClassifier(labelColumnName: "Label", textColumnName: "Text"))
            .Append(mlContext.Transforms.Conversion.MapKeyToValue("PredictedLabel"));
        // Score is a Vector<Single, n> with the class names as slot names: the confusion matrix shows them.
        _ = (binary, multiclass);
    }

    public static void Pairs(IDataView train, IDataView test)
    {
        var mlContext = new MLContext(seed: 0);
        var crossEncoder = mlContext.Regression.Trainers.TextRegression(new TextClassifierOptions
        {
            TextColumnName = "Sentence1", SecondTextColumnName = "Sentence2", LabelColumnName = "Label", LearningRate = 5e-5,
        }).Fit(train);                                                      // [CLS] sentence1 [SEP] sentence2 [SEP] -> Score
        var metrics = mlContext.Regression.EvaluateSimilarity(crossEncoder.Transform(test), "Label", "Score");   // Spearman, Pearson
        var ranked = crossEncoder.Rank("A man is playing a guitar.", ["A man plays music.", "A cat sleeps."]);   // (Index, Score), best first

        var biEncoder = mlContext.Transforms.Text.FineTuneSentenceEmbedding(new SentenceEmbeddingTrainingOptions
        {
            FirstSentenceColumnName = "Sentence1", SecondSentenceColumnName = "Sentence2", LabelColumnName = "Label",
            Loss = SimilarityLoss.CoSent, OutputColumnName = "Features",
        }).Fit(train);                                                      // works wherever ApplySentenceEmbedding does
        biEncoder.SaveEncoder("my-encoder");                                // config.json, vocab.txt, model.safetensors
        var reloaded = mlContext.Transforms.Text.ApplySentenceEmbedding(new SentenceEmbeddingOptions { EncoderFolder = "my-encoder" });
        _ = (metrics, ranked, reloaded);
    }

    public static void Network(torch.Tensor source, torch.Tensor sourcePadding, torch.Tensor target, KeyValueCache cache)
    {
        using var model = new EncoderDecoderModel(TransformerConfig.Base);   // N = 6, d_model = 512, h = 8, d_ff = 2048
        var memory = model.Encode(source, sourcePadding);                    // (B, S) -> (B, S, 512)
        var hidden = model.Decode(target, memory, sourcePadding, cache);      // masked self-attention + cross-attention
        var logits = model.Project(hidden);                                   // (B, T, vocabulary)
        _ = logits;
    }

    public static void Pretrained()
    {
        using var bert = PretrainedBert.LoadMiniLm();            // offline, from the NuGet package
        using var encoder = SentenceEncoder.FromPretrained(bert, new SentenceEncoderOptions { Pooling = Pooling.Mean });
        float[][] vectors = encoder.Encode(["A man is playing a guitar.", "Someone plays music."]);

        bert.SaveFolder("my-model");                             // config.json + model.safetensors + vocab.txt (Hugging Face layout)
        using var other = PretrainedBert.LoadFolder("my-model"); // any BERT-family checkpoint in that layout
        _ = vectors;
    }

    public static void Onnx(MLContext mlContext, ITransformer model, SentenceEncoder encoder)
    {
        // A fitted pipeline with one of our encoder transformers (embeddings, classifier, cross-encoder, entities):
        OnnxExportManifest manifest = mlContext.Model.ExportOnnx(model, "sentiment-onnx");   // model.onnx + vocab.txt + onnx_export.json
        mlContext.Model.ExportOnnx(model, "sentiment-onnx", "sentiment-onnx-int8");        // and a copy with int8 weights
        Console.WriteLine($"{manifest.Task}: inputs {string.Join(", ", manifest.Inputs)}, at most {manifest.MaxTokens} tokens");
        encoder.ExportOnnx("minilm-onnx");                       // a network-library SentenceEncoder, pooled and normalised
    }

    public static void OnnxRuntime(MLContext mlContext, IDataView data)
    {
        // In an app that references only Transformer.MLNet.Onnx: no TorchSharp, no libtorch.
        using var classifier = mlContext.Transforms.Text.ApplyOnnxExport("sentiment-onnx", inputColumnName: "Text").Fit(data);
        IDataView scored = classifier.Transform(data);                 // Score, Probability, PredictedLabel, as before export
        var metrics = mlContext.BinaryClassification.Evaluate(scored);
        using var embedder = mlContext.Transforms.Text.ApplyOnnxExport("minilm-onnx", "Text", outputColumnName: "Features").Fit(data);
        _ = metrics;
        _ = embedder;
    }

    public static void Generation()
    {
        var mlContext = new MLContext(seed: 0);
        var translator = mlContext.Transforms.Text.TrainTranslator(new TranslationOptions
        {
            SourceColumnName = "Spanish", TargetColumnName = "English", OutputColumnName = "Translation",
            Architecture = TransformerConfig.Tiny with { ModelDim = 256, Heads = 4, FeedForwardDim = 1024 },  // vocabulary: from the corpus
        });
        var generator = mlContext.Transforms.Text.TrainTextGenerator(new TextGenerationOptions
        {
            TextColumnName = "Text", PromptColumnName = "Prompt", OutputColumnName = "Completion",
        });
        _ = (translator, generator);
    }

    public static void TranslationEvaluation(TranslationEstimator translator, IDataView trainSet, IDataView testSet)
    {
        var mlContext = new MLContext(seed: 0);
        var model = translator.Fit(trainSet);
        var metrics = mlContext.Transforms.Text.EvaluateTranslation(model.Transform(testSet), referenceColumnName: "English");
        Console.WriteLine($"BLEU {metrics.Bleu.Score:F1}  chrF {metrics.ChrF:F1}");
        var beam = model.Translate(["¿Dónde está la estación?"], model.Decoding with { Strategy = DecodingStrategy.BeamSearch, BeamWidth = 4 });
        CrossAttentionMap map = model.CrossAttention("¿Dónde está la estación?", beam[0]);   // weights per layer and head
        double[,] lastLayer = map.Average();                                               // target tokens × source tokens
        _ = lastLayer;
    }
}
