using System.Reflection;
using Microsoft.ML;
using Microsoft.ML.Runtime;
using TorchSharp;
using Transformer.MLNet.Network.Runtime;

namespace Transformer.MLNet;

/// <summary>
/// Finds the environment behind one of an <see cref="MLContext"/>'s catalogs (<c>mlContext.Transforms.Text</c>,
/// <c>mlContext.BinaryClassification.Trainers</c>, ...) and its device settings. ML.NET 5.0.1 keeps both internal,
/// yet a third-party catalog extension needs them for seeding, logging to <see cref="MLContext.Log"/> and device
/// selection: this is the one place that reaches them by reflection. A unit test fails loudly if ML.NET changes them.
/// </summary>
internal static class CatalogContext
{
    private const BindingFlags Instance = BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.DeclaredOnly;

    /// <summary>The catalog's <see cref="IHostEnvironment"/>: the one its <see cref="MLContext"/> seeds and listens to.</summary>
    public static IHostEnvironment GetEnvironment(this object catalog)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        if (catalog is IHostEnvironment direct)
            return direct;
        for (var type = catalog.GetType(); type is not null; type = type.BaseType)
        {
            foreach (var field in type.GetFields(Instance))
            {
                if (typeof(IHostEnvironment).IsAssignableFrom(field.FieldType) && field.GetValue(catalog) is IHostEnvironment fromField)
                    return fromField;
            }

            foreach (var property in type.GetProperties(Instance))
            {
                if (typeof(IHostEnvironment).IsAssignableFrom(property.PropertyType) && property.GetIndexParameters().Length == 0
                    && property.GetValue(catalog) is IHostEnvironment fromProperty)
                {
                    return fromProperty;
                }
            }
        }

        throw new NotSupportedException(
            $"Could not find the ML.NET environment behind {catalog.GetType().Name}; Transformer.MLNet supports Microsoft.ML 5.0.x.");
    }

    /// <summary>The device chosen by the environment's <c>GpuDeviceId</c> and <c>FallbackToCpu</c> (see <see cref="MLContextDeviceExtensions"/>).</summary>
    public static torch.Device GetTorchDevice(this IHostEnvironment environment)
    {
        if (environment is MLContext mlContext)
            return mlContext.GetTorchDevice();
        int? gpu = (int?)Property(environment, nameof(MLContext.GpuDeviceId));
        bool fallback = (bool?)Property(environment, nameof(MLContext.FallbackToCpu)) ?? false;
        return TorchDevices.Select(gpu, fallback);
    }

    private static object? Property(object target, string name)
    {
        for (var type = target.GetType(); type is not null; type = type.BaseType)
        {
            var property = type.GetProperties(Instance).FirstOrDefault(p => p.Name == name || p.Name.EndsWith("." + name, StringComparison.Ordinal));
            if (property is not null)
                return property.GetValue(target);
        }

        throw new NotSupportedException(
            $"The ML.NET environment {target.GetType().Name} has no {name} setting; Transformer.MLNet supports Microsoft.ML 5.0.x.");
    }
}
