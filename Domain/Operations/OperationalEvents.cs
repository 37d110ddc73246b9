using System.Globalization;
using System.Text;
using System.Text.Json;
using Herald.Messages;
using Npgsql;
using NpgsqlTypes;

namespace Herald.Operations;

/// <summary>The types of operational event Herald emits (registered for the operations application by migration 0009).</summary>
public static class OperationalEventTypes
{
    public const string EndpointCreated = "endpoint.created";
    public const string EndpointUpdated = "endpoint.updated";
    public const string EndpointDeleted = "endpoint.deleted";
    public const string EndpointDisabled = "endpoint.disabled";
    public const string EndpointEnabled = "endpoint.enabled";
    public const string AttemptExhausted = "message.attempt.exhausted";
    public const string AttemptFailing = "message.attempt.failing";

    public static IReadOnlyList<string> All { get; } =
        [EndpointCreated, EndpointUpdated, EndpointDeleted, EndpointDisabled, EndpointEnabled, AttemptExhausted, AttemptFailing];
}

/// <summary>Who disabled an endpoint, in an <c>endpoint.disabled</c> event.</summary>
public static class DisableTrigger
{
    /// <summary>The delivery engine: the endpoint answered 410 Gone, or failed for too long.</summary>
    public const string Automatic = "automatic";

    /// <summary>A <c>PUT</c> with <c>disabled: true</c>.</summary>
    public const string Manual = "manual";
}

/// <summary>The attempt an attempt event is about.</summary>
public sealed record AttemptSummary(string Id, DateTimeOffset Timestamp, int? ResponseStatusCode, string? Error);

/// <summary>
/// One operational event as it is stored: a message of the operations application whose payload is
/// <c>{"type":…,"timestamp":…,"data":{…}}</c>. <see cref="EventId"/> is derived from what happened (never random), so the
/// same event produced twice — a retried batch, two replicas — is one message: <c>messages.event_id</c> is unique per
/// application.
/// </summary>
public sealed record OperationalEvent(string MessageId, string Type, string EventId, string Payload, DateTimeOffset Timestamp)
{
    public static OperationalEvent EndpointCreated(string applicationId, string endpointId, DateTimeOffset at) =>
        Create(OperationalEventTypes.EndpointCreated, endpointId, at, data => WriteEndpoint(data, applicationId, endpointId));

    public static OperationalEvent EndpointUpdated(string applicationId, string endpointId, DateTimeOffset updatedAt) =>
        Create(OperationalEventTypes.EndpointUpdated, $"{endpointId}:{Rfc3339(updatedAt)}", updatedAt,
            data => WriteEndpoint(data, applicationId, endpointId));

    public static OperationalEvent EndpointDeleted(string applicationId, string endpointId, DateTimeOffset at) =>
        Create(OperationalEventTypes.EndpointDeleted, endpointId, at, data => WriteEndpoint(data, applicationId, endpointId));

    public static OperationalEvent EndpointEnabled(string applicationId, string endpointId, DateTimeOffset enabledAt) =>
        Create(OperationalEventTypes.EndpointEnabled, $"{endpointId}:{Rfc3339(enabledAt)}", enabledAt,
            data => WriteEndpoint(data, applicationId, endpointId));

    /// <param name="trigger">A <see cref="DisableTrigger"/>.</param>
    public static OperationalEvent EndpointDisabled(string applicationId, string endpointId, string reason, string trigger, DateTimeOffset disabledAt) =>
        Create(OperationalEventTypes.EndpointDisabled, $"{endpointId}:{Rfc3339(disabledAt)}", disabledAt, data =>
        {
            WriteEndpoint(data, applicationId, endpointId);
            data.WriteString("reason", reason);
            data.WriteString("trigger", trigger);
        });

    /// <summary>The delivery of a message to an endpoint used its last attempt (<paramref name="lastAttempt"/>): one event
    /// per dead letter, so a delivery resent and exhausted again is a second event.</summary>
    public static OperationalEvent AttemptExhausted(string applicationId, string messageId, string eventType, string endpointId, AttemptSummary lastAttempt) =>
        Create(OperationalEventTypes.AttemptExhausted, lastAttempt.Id, lastAttempt.Timestamp,
            data => WriteAttempt(data, applicationId, messageId, eventType, endpointId, lastAttempt));

    /// <summary>An endpoint failed <paramref name="attempt"/> after succeeding; the caller debounces it.</summary>
    public static OperationalEvent AttemptFailing(string applicationId, string messageId, string eventType, string endpointId, AttemptSummary attempt) =>
        Create(OperationalEventTypes.AttemptFailing, $"{endpointId}:{attempt.Id}", attempt.Timestamp,
            data => WriteAttempt(data, applicationId, messageId, eventType, endpointId, attempt));

    /// <summary>The <c>event_id</c> prefix of every <c>message.attempt.failing</c> event about one endpoint.</summary>
    public static string FailingEventIdPrefix(string endpointId) => $"{OperationalEventTypes.AttemptFailing}:{endpointId}:";

    /// <summary>RFC 3339 in UTC to the microsecond (what PostgreSQL keeps), e.g. <c>2026-11-25T12:00:00.123456Z</c>.</summary>
    public static string Rfc3339(DateTimeOffset at) => at.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'", CultureInfo.InvariantCulture);

    private static OperationalEvent Create(string type, string subject, DateTimeOffset at, Action<Utf8JsonWriter> writeData)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteString("type", type);
            writer.WriteString("timestamp", Rfc3339(at));
            writer.WriteStartObject("data");
            writeData(writer);
            writer.WriteEndObject();
            writer.WriteEndObject();
        }
        return new OperationalEvent(SortableId.New("msg", at), type, $"{type}:{subject}", Encoding.UTF8.GetString(buffer.ToArray()), at);
    }

    private static void WriteEndpoint(Utf8JsonWriter data, string applicationId, string endpointId)
    {
        data.WriteString("appId", applicationId);
        data.WriteString("endpointId", endpointId);
    }

    private static void WriteAttempt(Utf8JsonWriter data, string applicationId, string messageId, string eventType, string endpointId, AttemptSummary attempt)
    {
        data.WriteString("appId", applicationId);
        data.WriteString("messageId", messageId);
        data.WriteString("eventType", eventType);
        data.WriteString("endpointId", endpointId);
        data.WriteStartObject("lastAttempt");
        data.WriteString("id", attempt.Id);
        data.WriteString("timestamp", Rfc3339(attempt.Timestamp));
        if (attempt.ResponseStatusCode is { } status) data.WriteNumber("responseStatusCode", status);
        else data.WriteNull("responseStatusCode");
        data.WriteString("error", attempt.Error);
        data.WriteEndObject();
    }
}

/// <summary>
/// Where operational events are written: as messages of the reserved operations application, each with its outbox row,
/// on the caller's connection and transaction — so an event commits with the state change it reports, or not at all.
/// The outbox then brings it to Kafka and the fan-out like any message (the API publishes its own at once; the
/// Processor's wait for the relay).
/// </summary>
public static class OperationalEvents
{
    /// <summary>The reserved application (created by migration 0009) whose endpoints are the operational endpoints.</summary>
    public const string ApplicationId = "app_operations";

    /// <summary>Whether an event about <paramref name="applicationId"/>'s endpoints or deliveries is emitted: never
    /// about the operations application itself, whose own failures would otherwise feed themselves.</summary>
    public static bool AreEmittedFor(string applicationId) => !string.Equals(applicationId, ApplicationId, StringComparison.Ordinal);

    /// <summary>
    /// The statement that stores <paramref name="events"/>. An event no operational endpoint would receive (none exists,
    /// or none subscribes to its type) is not stored; an event whose id was already stored is not stored again.
    /// <paramref name="condition"/>, if given, is a further SQL condition on each event (alias <c>e</c>: <c>type</c>,
    /// <c>event_id</c>, <c>at</c>), whose own parameters start at <c>$6</c>. Returns the ids of the messages stored.
    /// </summary>
    public static string InsertSql(string? condition = null) => $"""
        WITH inserted AS (
            INSERT INTO messages (id, application_id, event_type, event_id, payload, created_at)
            SELECT e.id, '{ApplicationId}', e.type, e.event_id, e.payload, e.at
            FROM unnest($1::text[], $2::text[], $3::text[], $4::json[], $5::timestamptz[]) AS e(id, type, event_id, payload, at)
            WHERE EXISTS (SELECT 1 FROM endpoints p WHERE p.application_id = '{ApplicationId}'
                                                     AND (p.event_types IS NULL OR e.type = ANY (p.event_types)))
              {(condition is null ? "" : "AND " + condition)}
            ON CONFLICT DO NOTHING
            RETURNING id, created_at)
        INSERT INTO message_outbox (message_id, created_at) SELECT id, created_at FROM inserted
        RETURNING message_id
        """;

    private static readonly string PlainInsert = InsertSql();

    /// <summary>For a caller's <see cref="NpgsqlBatch"/> (the delivery ledger's), so the events go in its round trip.</summary>
    public static NpgsqlBatchCommand InsertCommand(IReadOnlyList<OperationalEvent> events)
    {
        var command = new NpgsqlBatchCommand(PlainInsert);
        AddParameters(command.Parameters, events);
        return command;
    }

    /// <summary>Stores the events in <paramref name="transaction"/> (or alone, without one); returns those stored, which
    /// the caller may publish once committed.</summary>
    public static async Task<IReadOnlyList<OperationalEvent>> WriteAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction,
        IReadOnlyList<OperationalEvent> events, CancellationToken cancellationToken, string? condition = null, params NpgsqlParameter[] conditionParameters)
    {
        if (events.Count == 0) return [];
        await using var insert = new NpgsqlCommand(InsertSql(condition), connection, transaction);
        AddParameters(insert.Parameters, events);
        foreach (var parameter in conditionParameters) insert.Parameters.Add(parameter);
        var stored = new HashSet<string>(StringComparer.Ordinal);
        await using (var reader = await insert.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken)) stored.Add(reader.GetString(0));
        }
        return [.. events.Where(e => stored.Contains(e.MessageId))];
    }

    private static void AddParameters(NpgsqlParameterCollection parameters, IReadOnlyList<OperationalEvent> events)
    {
        parameters.Add(new() { Value = events.Select(e => e.MessageId).ToArray() });
        parameters.Add(new() { Value = events.Select(e => e.Type).ToArray() });
        parameters.Add(new() { Value = events.Select(e => e.EventId).ToArray() });
        parameters.Add(new() { Value = events.Select(e => e.Payload).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Json });
        parameters.Add(new() { Value = events.Select(e => e.Timestamp).ToArray() });
    }
}
