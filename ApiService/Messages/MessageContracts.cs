using System.Text.Json;
using System.Text.Json.Serialization;

namespace Herald.ApiService.Messages;

/// <param name="Channels">Only endpoints subscribed to one of these channels (or to none) receive the message.</param>
/// <param name="Tags">Labels to find the message by (<c>?tag=</c>); they do not route it.</param>
/// <param name="Retention">Seconds to keep the payload (<see cref="MessageOptions.MinRetention"/> up to
/// <see cref="MessageOptions.PayloadRetention"/>); null: the global period.</param>
public sealed record CreateMessageInput(string? EventType, string? EventId, JsonElement Payload, string[]? Channels = null, string[]? Tags = null,
    long? Retention = null);

/// <param name="Payload">Null once retention dropped it or it was expunged.</param>
/// <param name="ExpungedAt">When the payload was expunged (DELETE …/content); null otherwise.</param>
public sealed record MessageResponse(
    string Id,
    string EventType,
    string? EventId,
    RawJson? Payload,
    DateTimeOffset CreatedAt,
    string[]? Channels = null,
    string[]? Tags = null,
    DateTimeOffset? ExpungedAt = null);

/// <summary>A payload's JSON text, handed out exactly as stored. Re-encoding it would check its strings again, and a
/// payload that fails the check (one stored before unpaired surrogates were refused) would fail every read of it.</summary>
[JsonConverter(typeof(RawJsonConverter))]
public sealed record RawJson(string Text)
{
    /// <summary>Null when there is no payload: SQL NULL (retention dropped it) or JSON null.</summary>
    public static RawJson? From(string? text) => text is null or "null" ? null : new(text);
}

internal sealed class RawJsonConverter : JsonConverter<RawJson>
{
    public override RawJson Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        using var document = JsonDocument.ParseValue(ref reader);
        return new(document.RootElement.GetRawText());
    }

    // Unchecked: the text is JSON, as PostgreSQL's json type (and the parser before it) made sure.
    public override void Write(Utf8JsonWriter writer, RawJson value, JsonSerializerOptions options) =>
        writer.WriteRawValue(value.Text, skipInputValidation: true);
}

