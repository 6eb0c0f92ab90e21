using System.Reflection;
using Microsoft.ML;
using Microsoft.ML.Runtime;

namespace Transformer.MLNet;

/// <summary>
/// Finds the <see cref="MLContext"/> behind one of its catalogs (<c>mlContext.Transforms.Text</c>,
/// <c>mlContext.BinaryClassification.Trainers</c>, ...). ML.NET 5.0.1 keeps a catalog's environment internal, yet a
/// third-party catalog extension needs it for seeding, logging and device selection: this is the one place that
/// reaches it by reflection. A unit test fails loudly if ML.NET changes it.
/// </summary>
internal static class CatalogContext
{
    private const BindingFlags Instance = BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic;

    public static MLContext GetMLContext(this object catalog)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        for (var type = catalog.GetType(); type is not null; type = type.BaseType)
        {
            foreach (var property in type.GetProperties(Instance | BindingFlags.DeclaredOnly))
            {
                if (typeof(IHostEnvironment).IsAssignableFrom(property.PropertyType) && property.GetIndexParameters().Length == 0
                    && property.GetValue(catalog) is MLContext fromProperty)
                {
                    return fromProperty;
                }
            }

            foreach (var field in type.GetFields(Instance | BindingFlags.DeclaredOnly))
            {
                if (typeof(IHostEnvironment).IsAssignableFrom(field.FieldType) && field.GetValue(catalog) is MLContext fromField)
                    return fromField;
            }
        }

        throw new NotSupportedException(
            $"Could not find the MLContext behind {catalog.GetType().Name}; Transformer.MLNet supports Microsoft.ML 5.0.x.");
    }
}
