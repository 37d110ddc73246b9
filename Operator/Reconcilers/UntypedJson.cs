using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Kiota.Abstractions.Serialization;

namespace Herald.Operator.Reconcilers;

/// <summary>Free-form JSON (an event type's schema, an endpoint's filter) between the resource's JSON and the generated client's untyped nodes.</summary>
public static class UntypedJson
{
    public static UntypedNode? From(JsonElement? element) => element is { } e ? From(e) : null;

    private static UntypedNode From(JsonElement e) => e.ValueKind switch
    {
        JsonValueKind.Object => new UntypedObject(e.EnumerateObject().ToDictionary(p => p.Name, p => From(p.Value))),
        JsonValueKind.Array => new UntypedArray(e.EnumerateArray().Select(From).ToList()),
        JsonValueKind.String => new UntypedString(e.GetString()),
        JsonValueKind.Number when e.TryGetInt64(out var l) => new UntypedLong(l),
        JsonValueKind.Number => new UntypedDouble(e.GetDouble()),
        JsonValueKind.True => new UntypedBoolean(true),
        JsonValueKind.False => new UntypedBoolean(false),
        _ => new UntypedNull(),
    };

    public static JsonNode? ToNode(UntypedNode? node) => node switch
    {
        null or UntypedNull => null,
        UntypedObject o => new JsonObject(o.GetValue().Select(p => KeyValuePair.Create(p.Key, ToNode(p.Value)))),
        UntypedArray a => new JsonArray([.. a.GetValue().Select(ToNode)]),
        UntypedString s => JsonValue.Create(s.GetValue()),
        UntypedBoolean b => JsonValue.Create(b.GetValue()),
        UntypedLong l => JsonValue.Create(l.GetValue()),
        UntypedInteger i => JsonValue.Create((long)i.GetValue()),
        UntypedDouble d => JsonValue.Create(d.GetValue()),
        UntypedFloat f => JsonValue.Create((double)f.GetValue()),
        UntypedDecimal m => JsonValue.Create(m.GetValue()),
        _ => throw new NotSupportedException(node.GetType().Name),
    };

    /// <summary>A response's free-form object (the client keeps its fields as additional data: nodes or plain values).</summary>
    public static JsonNode? ToNode(Herald.Client.Generated.Models.RawJson? raw) =>
        raw is null ? null : new JsonObject(raw.AdditionalData.Select(p => KeyValuePair.Create(p.Key, ToNode(p.Value))));

    private static JsonNode? ToNode(object? value) => value switch
    {
        null => null,
        UntypedNode node => ToNode(node),
        _ => JsonSerializer.SerializeToNode(value),
    };

    /// <summary>Equal as JSON values (numbers by value, objects regardless of key order).</summary>
    public static bool Same(JsonElement? desired, Herald.Client.Generated.Models.RawJson? actual) => Same(desired, ToNode(actual));

    /// <inheritdoc cref="Same(JsonElement?, Herald.Client.Generated.Models.RawJson?)"/>
    public static bool Same(JsonElement? desired, UntypedNode? actual) => Same(desired, ToNode(actual));

    private static bool Same(JsonElement? desired, JsonNode? actual)
    {
        var a = desired is { ValueKind: not JsonValueKind.Null } d ? JsonNode.Parse(d.GetRawText()) : null;
        return JsonNode.DeepEquals(Normalize(a), Normalize(actual));
    }

    // Numbers as doubles: 1 and 1.0 are one schema.
    private static JsonNode? Normalize(JsonNode? n) => n switch
    {
        JsonObject o => new JsonObject(o.Select(p => KeyValuePair.Create(p.Key, Normalize(p.Value)))),
        JsonArray a => new JsonArray([.. a.Select(Normalize)]),
        JsonValue v when v.GetValueKind() == JsonValueKind.Number => JsonValue.Create(double.Parse(v.ToJsonString(), System.Globalization.CultureInfo.InvariantCulture)),
        _ => n?.DeepClone(),
    };
}
