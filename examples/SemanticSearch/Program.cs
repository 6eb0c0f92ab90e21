using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.AI;
using Transformer.MLNet.Embeddings;
using Transformer.MLNet.Examples.Data;
using Transformer.MLNet.Examples.SemanticSearch;
using Transformer.MLNet.Network.Runtime;

// Semantic search through Microsoft.Extensions.AI: the pretrained MiniLM encoder as an IEmbeddingGenerator indexes
// the distinct sentences of the STS-B test set, then a few queries print their best hits with cosine scores. A check
// of the retrieval: for every test pair rated 4.5 or more (near paraphrases), the first sentence queries the index
// and we count how often the second is the best hit (the query sentence itself left out).
// Usage: dotnet run -c Release --project examples/SemanticSearch
TorchRuntime.EnsureLoaded();
using IEmbeddingGenerator<string, Embedding<float>> generator = SentenceEmbeddingGenerator.Create(modelId: "all-MiniLM-L6-v2");
var metadata = generator.GetService<EmbeddingGeneratorMetadata>()!;
Console.WriteLine($"generator: {metadata.ProviderName}, model {metadata.DefaultModelId}, {metadata.DefaultModelDimensions} dimensions");

var pairs = StsBenchmark.Read("test");
var sentences = pairs.SelectMany(p => new[] { p.Sentence1, p.Sentence2 }).Distinct(StringComparer.Ordinal).ToList();
var clock = Stopwatch.StartNew();
var embeddings = await generator.GenerateAsync(sentences);
double indexSeconds = clock.Elapsed.TotalSeconds;
var index = new InMemoryCosineIndex();
var vectorOf = new Dictionary<string, ReadOnlyMemory<float>>(StringComparer.Ordinal);
for (int i = 0; i < sentences.Count; i++)
{
    index.Add(sentences[i], embeddings[i].Vector);
    vectorOf[sentences[i]] = embeddings[i].Vector;
}

Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"indexed {index.Count:N0} sentences in {indexSeconds:F1} s"));
foreach (string query in new[] { "Someone is playing a musical instrument.", "A dog runs through the snow.", "Oil prices rose after the announcement.", "How to cook rice" })
{
    var queryVector = await generator.GenerateVectorAsync(query);
    Console.WriteLine($"query: \"{query}\"");
    foreach (var hit in index.Search(queryVector, top: 3))
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {hit.Score:F3}  {hit.Text}"));
}

var paraphrases = pairs.Where(p => p.Score >= 4.5 && p.Sentence1 != p.Sentence2).ToList();
int found = paraphrases.Count(p => index.Search(vectorOf[p.Sentence1], top: 1, skip: t => t == p.Sentence1)[0].Text == p.Sentence2);
Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
    $"sentences={index.Count} index_seconds={indexSeconds:F1} paraphrase_pairs={paraphrases.Count} paraphrase_recall_at_1={(double)found / paraphrases.Count:F4}"));
