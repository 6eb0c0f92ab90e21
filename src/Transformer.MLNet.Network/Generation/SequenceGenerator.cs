using TorchSharp;
using Transformer.MLNet.Network.Configuration;
using Transformer.MLNet.Network.Modules;
using Transformer.MLNet.Network.Runtime;
using Transformer.MLNet.Network.Tokenization;
using static TorchSharp.torch;

namespace Transformer.MLNet.Network.Generation;

/// <summary>What every generator holds: a trained network, the tokenizer it was trained with, and their persistence.</summary>
/// <typeparam name="TModel">The network type.</typeparam>
public abstract class SequenceGenerator<TModel> : ITextGenerator where TModel : nn.Module
{
    private readonly TransformerConfig config;

    private protected SequenceGenerator(TModel model, TransformerConfig config, GenerationTokenizer tokenizer)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(tokenizer);
        if (tokenizer.VocabSize != config.VocabSize)
        {
            throw new ArgumentException(
                $"The tokenizer has {tokenizer.VocabSize} ids but the model's VocabSize is {config.VocabSize}: use the tokenizer the model was trained with.",
                nameof(tokenizer));
        }

        Model = model;
        Tokenizer = tokenizer;
        this.config = config;
        Lifetime = new UsageGuard(GetType());
    }

    /// <summary>The network.</summary>
    public TModel Model { get; }

    /// <summary>The tokenizer.</summary>
    public GenerationTokenizer Tokenizer { get; }

    /// <inheritdoc/>
    public TransformerConfig Config => config;

    /// <inheritdoc/>
    public long ParameterCount
    {
        get
        {
            using var use = Lifetime.Enter();
            return Model.ParameterCount();
        }
    }

    /// <summary>Keeps the network alive while a call uses it: generation enters it, <see cref="Dispose"/> waits for it.</summary>
    private protected UsageGuard Lifetime { get; }

    /// <summary>Name of the model kind in the saved file.</summary>
    private protected abstract string Kind { get; }

    /// <inheritdoc/>
    public abstract string[] GenerateText(IReadOnlyList<string> inputs, GenerationOptions? options = null);

    /// <summary>Writes config, tokenizer and weights to one stream (layout: see <see cref="GenerativeModelFile"/>).</summary>
    /// <param name="stream">Destination; left open.</param>
    public void Save(Stream stream)
    {
        using var use = Lifetime.Enter();
        GenerativeModelFile.Save(stream, Kind, config, Tokenizer, Model);
    }

    /// <summary>Releases the network's tensors once running calls have finished; later calls throw
    /// <see cref="ObjectDisposedException"/>. Calling it again does nothing.</summary>
    public void Dispose()
    {
        Lifetime.Dispose(Model.Dispose);
        GC.SuppressFinalize(this);
    }

    /// <summary>The device the network's weights are on.</summary>
    private protected Device Device => Model.parameters().First().device;

    /// <summary>Reads what <see cref="Save"/> wrote and builds the generator.</summary>
    private protected static TGenerator Load<TGenerator>(Stream stream, Device? device, string kind,
        Func<TransformerConfig, TModel> build, Func<TModel, GenerationTokenizer, TGenerator> wrap)
    {
        ArgumentNullException.ThrowIfNull(stream);
        using var reader = new BinaryReader(stream, System.Text.Encoding.UTF8, leaveOpen: true);
        try
        {
            var (config, tokenizer) = GenerativeModelFile.ReadHeader(reader, kind);
            var network = build(config);
            try
            {
                network.load(reader);
                if (device is not null)
                    network.to(device);
                network.eval();
                return wrap(network, tokenizer);
            }
            catch
            {
                network.Dispose();
                throw;
            }
        }
        catch (Exception e) when (GenerativeModelFile.IsDamage(e))
        {
            throw GenerativeModelFile.Damaged(e);
        }
    }
}
