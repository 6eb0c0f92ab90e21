using Microsoft.ML;
using Transformer.MLNet.Schema;

namespace Transformer.MLNet.Tests;

internal static class TestSchemas
{
    /// <summary>The estimator-side shape of a data view's schema.</summary>
    public static SchemaShape Shape(DataViewSchema schema) => new(schema.Select(SchemaShapeColumns.FromSchemaColumn));

    public static bool HasAnnotation(SchemaShape.Column column, string name) =>
        column.Annotations?.Any(c => c.Name == name) == true;

    public static SchemaShape.Column Find(SchemaShape shape, string name) =>
        shape.Single(c => c.Name == name);
}
