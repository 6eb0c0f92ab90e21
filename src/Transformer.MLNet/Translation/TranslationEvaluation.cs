using Microsoft.ML;
using Microsoft.ML.Data;
using Transformer.MLNet.Network.Metrics;

namespace Transformer.MLNet.Translation;

/// <summary>Corpus-level quality of translations: BLEU and chrF, as sacreBLEU computes them by default.</summary>
/// <param name="Bleu">Corpus BLEU (13a tokenisation, exponential smoothing) with its n-gram statistics.</param>
/// <param name="ChrF">Corpus chrF2 (character 6-grams, β = 2), 0–100.</param>
/// <param name="RowCount">Rows scored.</param>
public sealed record TranslationMetrics(BleuScore Bleu, double ChrF, long RowCount);

/// <summary>
/// The translation evaluator, in the style of ML.NET's <c>mlContext.BinaryClassification.Evaluate</c>: it reads a
/// translated-text column and a reference column from any <see cref="IDataView"/> (typically the output of a fitted
/// translation pipeline) and returns corpus metrics.
/// </summary>
/// <remarks>
/// <list type="table">
/// <listheader><term>Column</term><description>Type</description></listheader>
/// <item><term>translation</term><description>Text: the system output.</description></item>
/// <item><term>reference</term><description>Text (one reference per row) or a vector of text (all references of the row; empty entries are ignored).</description></item>
/// </list>
/// </remarks>
public static class TranslationEvaluation
{
    /// <summary>Scores translations against references with sacreBLEU-compatible corpus BLEU and chrF.</summary>
    /// <param name="catalog"><c>mlContext.Transforms.Text</c>, the catalog of <see cref="TranslationCatalogExtensions.TrainTranslator(TransformsCatalog.TextTransforms, TranslationOptions)"/>.</param>
    /// <param name="data">Rows holding both columns.</param>
    /// <param name="referenceColumnName">Reference translation(s): text, or a vector of text for several references.</param>
    /// <param name="translationColumnName">System translations (text).</param>
    /// <param name="bleu">BLEU settings; null uses sacreBLEU's defaults.</param>
    /// <param name="chrf">chrF settings; null uses sacreBLEU's defaults.</param>
    /// <returns>The metrics.</returns>
    /// <exception cref="ArgumentException">
    /// A column is missing or has another type; a row has no reference; a <paramref name="bleu"/> or <paramref name="chrf"/>
    /// setting is out of range (checked before any row is read; see <see cref="CorpusBleu.Validate"/> and <see cref="CorpusChrf.Validate"/>).
    /// </exception>
    public static TranslationMetrics EvaluateTranslation(this TransformsCatalog.TextTransforms catalog, IDataView data,
        string referenceColumnName = "Target", string translationColumnName = "Translation", CorpusBleu? bleu = null, CorpusChrf? chrf = null)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentNullException.ThrowIfNull(data);
        bleu = (bleu ?? new CorpusBleu()).Validate();
        chrf = (chrf ?? new CorpusChrf()).Validate();
        var translationColumn = Column(data.Schema, translationColumnName, nameof(translationColumnName), allowVector: false);
        var referenceColumn = Column(data.Schema, referenceColumnName, nameof(referenceColumnName), allowVector: true);

        var hypotheses = new List<string>();
        var references = new List<IReadOnlyList<string>>();
        using (var cursor = data.GetRowCursor(translationColumn.Index == referenceColumn.Index ? [translationColumn] : [translationColumn, referenceColumn]))
        {
            var translation = cursor.GetGetter<ReadOnlyMemory<char>>(translationColumn);
            Func<IReadOnlyList<string>> readReferences;
            if (referenceColumn.Type is VectorDataViewType)
            {
                var getter = cursor.GetGetter<VBuffer<ReadOnlyMemory<char>>>(referenceColumn);
                VBuffer<ReadOnlyMemory<char>> buffer = default;
                readReferences = () =>
                {
                    getter(ref buffer);
                    return [.. buffer.DenseValues().Select(r => r.ToString()).Where(r => r.Length > 0)];
                };
            }
            else
            {
                var getter = cursor.GetGetter<ReadOnlyMemory<char>>(referenceColumn);
                ReadOnlyMemory<char> value = default;
                readReferences = () =>
                {
                    getter(ref value);
                    return [value.ToString()];
                };
            }

            ReadOnlyMemory<char> hypothesis = default;
            while (cursor.MoveNext())
            {
                translation(ref hypothesis);
                var row = readReferences();
                if (row.Count == 0)
                    throw new ArgumentException($"Row {cursor.Position} has no reference in column '{referenceColumnName}'; every row needs at least one.", nameof(data));
                hypotheses.Add(hypothesis.ToString());
                references.Add(row);
            }
        }

        if (hypotheses.Count == 0)
            throw new ArgumentException("The data has no rows to evaluate.", nameof(data));
        return new TranslationMetrics(bleu.Score(hypotheses, references), chrf.Score(hypotheses, references), hypotheses.Count);
    }

    private static DataViewSchema.Column Column(DataViewSchema schema, string name, string parameter, bool allowVector)
    {
        ArgumentException.ThrowIfNullOrEmpty(name, parameter);
        var column = schema.GetColumnOrNull(name) ?? throw new ArgumentException(
            $"Column '{name}' is not in the data (columns: {string.Join(", ", schema.Select(c => c.Name))}); set {parameter}.", parameter);
        bool text = column.Type is TextDataViewType || (allowVector && column.Type is VectorDataViewType { ItemType: TextDataViewType });
        if (!text)
        {
            throw new ArgumentException(
                $"Column '{name}' is {column.Type}; it must be text{(allowVector ? " or a vector of text" : "")}.", parameter);
        }

        return column;
    }
}
