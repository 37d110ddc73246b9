using System.Text.Json;
using System.Text.Json.Serialization;

namespace Herald.Operator.Resources;

public sealed class HeraldEventType : CustomResource<HeraldEventTypeSpec>, IHeraldResource
{
    public static readonly ResourceType Type = new("HeraldEventType", "heraldeventtypes");

    string? IHeraldResource.ApplicationRef => Spec.ApplicationRef;
}

public sealed class HeraldEventTypeSpec
{
    /// <summary>The <see cref="HeraldApplication"/> (same namespace) the event type belongs to.</summary>
    [JsonPropertyName("applicationRef")] public string ApplicationRef { get; set; } = "";
    /// <summary>The event type's name in Herald, e.g. <c>invoice.paid</c>.</summary>
    [JsonPropertyName("name")] public string Name { get; set; } = "";
    [JsonPropertyName("description")] public string? Description { get; set; }
    /// <summary>A JSON Schema (2020-12) payloads of this type must satisfy.</summary>
    [JsonPropertyName("schema")] public JsonElement? Schema { get; set; }
}
