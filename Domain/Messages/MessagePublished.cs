using System.Text.Json;
using System.Text.Json.Serialization;

namespace Herald.Messages;

/// <summary>
/// The Kafka record the API publishes once a message is committed: everything the Processor needs to deliver it
/// without reading the message row back. The payload is the JSON text exactly as the client sent it.
/// </summary>
public sealed record MessagePublished(
    string MessageId,
    string ApplicationId,
    string EventType,
    string Payload,
    DateTimeOffset CreatedAt)
{
    /// <summary>The API put the message in at least one FIFO endpoint's line as it committed it: fan-out then starts
    /// the lines that have no head yet. (A relayed record does not say; the Processors' periodic pass starts them.)</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public bool Queued { get; init; }

    public byte[] ToUtf8Bytes() => JsonSerializer.SerializeToUtf8Bytes(this, HeraldJsonContext.Default.MessagePublished);

    public static MessagePublished FromUtf8Bytes(ReadOnlySpan<byte> utf8) =>
        JsonSerializer.Deserialize(utf8, HeraldJsonContext.Default.MessagePublished)
        ?? throw new JsonException("A MessagePublished record was null.");
}

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web)]
[JsonSerializable(typeof(MessagePublished))]
internal sealed partial class HeraldJsonContext : JsonSerializerContext;
