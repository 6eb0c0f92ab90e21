using System.Text.Json;
using System.Text.Json.Serialization;

namespace Transformer.MLNet.Persistence;

/// <summary>JSON settings of every entry this library writes: readable, enums by name.</summary>
internal static class PersistenceJson
{
    public static JsonSerializerOptions Options { get; } = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        Converters = { new JsonStringEnumConverter() },
    };
}
