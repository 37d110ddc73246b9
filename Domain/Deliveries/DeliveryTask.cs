using System.Text.Json;
using System.Text.Json.Serialization;

namespace Herald.Deliveries;

/// <summary>
/// A record on <c>herald.deliveries</c>: make attempt number <see cref="Attempt"/> of one message to one endpoint.
/// It carries the payload so the hot path never reads the message back; the endpoint (URL, secrets) is looked up by
/// the Processor, so no secret ever sits in Kafka. <see cref="EnqueuedAt"/> lets a worker drop a task older than the
/// lease, after which the scheduler has re-enqueued it from PostgreSQL.
/// </summary>
public sealed record DeliveryTask(
    string MessageId,
    string EndpointId,
    string ApplicationId,
    string EventType,
    string Payload,
    DateTimeOffset MessageCreatedAt,
    int Attempt,
    DateTimeOffset EnqueuedAt)
{
    /// <summary>The W3C traceparent this task continues (its message's trace). It travels as a Kafka record header,
    /// where tracing tools look for it, not in the JSON value.</summary>
    [JsonIgnore]
    public string? TraceParent { get; init; }

    /// <summary>The delivery is the head of a FIFO endpoint's line: once it succeeds or is dead-lettered, the next one
    /// in line goes.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public bool Ordered { get; init; }

    public byte[] ToUtf8Bytes() => JsonSerializer.SerializeToUtf8Bytes(this, DeliveryJsonContext.Default.DeliveryTask);

    public static DeliveryTask FromUtf8Bytes(ReadOnlySpan<byte> utf8) =>
        JsonSerializer.Deserialize(utf8, DeliveryJsonContext.Default.DeliveryTask)
        ?? throw new JsonException("A DeliveryTask record was null.");
}

/// <summary>
/// One attempt's outcome, published on Redis pub/sub channel <see cref="Channel"/> the moment it is recorded, so the
/// API can stream deliveries live. Best effort by nature: the attempt rows in PostgreSQL are the record.
/// </summary>
public sealed record DeliveryOutcome(
    string AttemptId,
    string MessageId,
    string EndpointId,
    string ApplicationId,
    string EventType,
    int Attempt,
    string Status,          // an AttemptStatus: succeeded | failed
    string DeliveryStatus,  // the delivery's after it: pending (a retry is scheduled) | succeeded | failed (dead-lettered) | paused
    int? HttpStatus,
    int LatencyMs,
    string? Error,
    DateTimeOffset AttemptedAt,
    DateTimeOffset? NextAttemptAt)
{
    public const string Channel = "herald:delivery-outcomes";

    public byte[] ToUtf8Bytes() => JsonSerializer.SerializeToUtf8Bytes(this, DeliveryJsonContext.Default.DeliveryOutcome);

    public static DeliveryOutcome FromUtf8Bytes(ReadOnlySpan<byte> utf8) =>
        JsonSerializer.Deserialize(utf8, DeliveryJsonContext.Default.DeliveryOutcome)
        ?? throw new JsonException("A DeliveryOutcome was null.");
}

/// <summary>Redis pub/sub channel on which the API announces endpoint changes (update, rotate, enable, delete), so
/// Processors drop their cached copy at once instead of at expiry. The message is the endpoint id.</summary>
public static class EndpointChanges
{
    public const string Channel = "herald:endpoint-changes";
}

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web)]
[JsonSerializable(typeof(DeliveryTask))]
[JsonSerializable(typeof(DeliveryOutcome))]
internal sealed partial class DeliveryJsonContext : JsonSerializerContext;
