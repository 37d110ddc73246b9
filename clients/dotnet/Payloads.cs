using System.Text.Json;
using Microsoft.Kiota.Abstractions.Serialization;
using Microsoft.Kiota.Serialization.Json;

namespace Herald.Client;

/// <summary>A message's payload is any JSON; the generated model holds it as Kiota's <see cref="UntypedNode"/>.</summary>
public static class Payloads
{
    /// <summary>The payload from any value System.Text.Json can write (an anonymous object, a record, a JsonElement).</summary>
    public static UntypedNode From<T>(T value, JsonSerializerOptions? options = null)
    {
        using var document = JsonDocument.Parse(JsonSerializer.SerializeToUtf8Bytes(value, options ?? JsonSerializerOptions.Web));
        return new JsonParseNode(document.RootElement.Clone()).GetObjectValue(UntypedNode.CreateFromDiscriminatorValue)!;
    }
}
