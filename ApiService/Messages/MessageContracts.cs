using System.Text.Json;
using System.Text.Json.Serialization;

namespace Herald.ApiService.Messages;

public sealed record CreateMessageInput(string? EventType, string? EventId, JsonElement Payload);

public sealed record MessageResponse(
    string Id,
    string EventType,
    string? EventId,
    RawJson? Payload,
    DateTimeOffset CreatedAt);

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

/// <summary>Configuration section <c>Herald:Messages</c>.</summary>
public sealed class MessageOptions
{
    public const string Section = "Herald:Messages";

    /// <summary>Room for eventType, eventId and JSON framing around a payload of the maximum size.</summary>
    public const int EnvelopeAllowance = 16 * 1024;

    /// <summary>The largest payload accepted, in bytes of its JSON text.</summary>
    public int MaxPayloadBytes { get; set; } = 256 * 1024;

    /// <summary>How long payloads are kept; afterwards the message remains, without its payload.</summary>
    public TimeSpan PayloadRetention { get; set; } = TimeSpan.FromDays(30);

    /// <summary>The most messages committed in one transaction (group commit).</summary>
    public int MaxBatchSize { get; set; } = 512;

    /// <summary>Transactions in flight at once; each takes what queued up while the others committed.</summary>
    public int Writers { get; set; } = 2;

    /// <summary>How long create-message waits for its commit before answering 503 (PostgreSQL slow or hanging). The
    /// commit may still complete afterwards: a client retrying with the same idempotency-key or eventId then gets that
    /// message, never a second one.</summary>
    public TimeSpan CommitTimeout { get; set; } = TimeSpan.FromSeconds(1.5);

    /// <summary>How often the relay looks for committed messages that never reached Kafka.</summary>
    public TimeSpan RelayInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>How old an unpublished message must be before the relay takes it over from the request path.</summary>
    public TimeSpan RelayGrace { get; set; } = TimeSpan.FromSeconds(10);
}
