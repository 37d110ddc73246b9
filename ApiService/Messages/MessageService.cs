using System.Globalization;
using System.Text;
using System.Text.Json;
using Herald.ApiService.Applications;
using Herald.ApiService.Auth;
using Herald.ApiService.EventTypes;
using Herald.ApiService.Http;
using Herald.ApiService.Problems;
using Herald.ApiService.Routing;
using Herald.ApiService.Telemetry;
using Herald.Database;
using Herald.Messages;
using Microsoft.Extensions.Options;
using Herald.Deliveries;
using Npgsql;
using NpgsqlTypes;

namespace Herald.ApiService.Messages;

/// <param name="Status">Only messages with a delivery in this state (a <see cref="DeliveryStatus"/>).</param>
/// <param name="Channel">Only messages sent on this channel.</param>
/// <param name="Tag">Only messages carrying this tag.</param>
public sealed record MessageFilter(string[]? EventTypes, DateTimeOffset? Before, DateTimeOffset? After, string? Status = null,
    string? Channel = null, string? Tag = null)
{
    public static MessageFilter From(HttpRequest request)
    {
        var types = request.Query["eventType"].Where(t => !string.IsNullOrEmpty(t)).Select(t => t!).ToArray();
        return new MessageFilter(types.Length == 0 ? null : types, Time(request, "before"), Time(request, "after"),
            ValidStatus(request.Query["status"].ToString()), ValidLabel("channel", request.Query["channel"].ToString()),
            ValidLabel("tag", request.Query["tag"].ToString()));
    }

    public static string? ValidLabel(string field, string? label) =>
        string.IsNullOrEmpty(label) ? null
        : RoutingLabels.IsValid(label) ? label
        : throw ApiError.Invalid(field, RoutingLabels.Rule);

    public static string? ValidStatus(string? status) =>
        string.IsNullOrEmpty(status) ? null
        : DeliveryStatus.All.Contains(status) ? status
        : throw ApiError.Invalid("status", $"One of {string.Join(", ", DeliveryStatus.All)}.");

    private static DateTimeOffset? Time(HttpRequest request, string name) => ParseTime(name, request.Query[name].ToString());

    /// <summary>An ISO 8601 date and time, UTC unless it names an offset (a portal's date-time field names none); null
    /// when empty; a 400 naming <paramref name="field"/> otherwise.</summary>
    public static DateTimeOffset? ParseTime(string field, string? text) =>
        string.IsNullOrEmpty(text) ? null
        : DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var value) ? value
        : throw ApiError.Invalid(field, "An ISO 8601 date and time, e.g. 2026-11-25T12:00:00Z.");
}

/// <summary>Messages: accepted once committed (group commit), published to Kafka, kept queryable.</summary>
public sealed class MessageService(
    MessageIngest ingest,
    ApplicationCache applications,
    EventTypeService eventTypes,
    EventSchemaCache schemas,
    NpgsqlDataSource dataSource,
    IOptions<MessageOptions> options,
    ApiMetrics metrics,
    TimeProvider time)
{
    public const int MaxEventIdLength = 256;

    /// <param name="idempotencyKey">The scoped idempotency key the request runs under, if any: recorded with the message,
    /// so a second request with it (after a lost response, a dead replica) returns this message instead of another.</param>
    public async Task<(MessageResponse Message, bool Existing)> CreateAsync(Caller caller, string applicationId, CreateMessageInput input,
        string? idempotencyKey, CancellationToken cancellationToken)
    {
        caller.RequireChangeTo(applicationId);
        var validation = new Validation();
        if (!EventTypeName.IsValid(input.EventType)) validation.Add("eventType", EventTypeName.Rule);
        if (input.EventId is not null && (input.EventId.Length is 0 or > MaxEventIdLength || input.EventId.Any(char.IsControl) || !StorableText.IsStorable(input.EventId)))
            validation.Add("eventId", $"1 to {MaxEventIdLength} printable characters, unique per application.");
        if (input.Payload.ValueKind != JsonValueKind.Object) validation.Add("payload", "Required: a JSON object.");
        var channels = RoutingLabels.Validate(input.Channels, "channels", RoutingLabels.MaxChannels, validation);
        var tags = RoutingLabels.Validate(input.Tags, "tags", RoutingLabels.MaxTags, validation);
        var longest = (long)options.Value.PayloadRetention.TotalSeconds;
        var shortest = (long)MessageOptions.MinRetention.TotalSeconds;
        if (input.Retention is { } retention && (retention < shortest || retention > longest))
            validation.Add("retention", $"Seconds to keep the payload, from {shortest} to {longest} (Herald:Messages:PayloadRetention); leave it out for that.");
        validation.ThrowIfInvalid();

        var payload = input.Payload.GetRawText();
        if (Encoding.UTF8.GetByteCount(payload) > options.Value.MaxPayloadBytes)
            throw new ApiError(ApiErrorKind.PayloadTooLarge, $"The payload is larger than {options.Value.MaxPayloadBytes} bytes.");

        var application = await applications.GetAsync(applicationId, cancellationToken) ?? throw ApiError.NotFound("application");
        if (application.RequireRegisteredEventTypes
            && !(await eventTypes.ActiveAsync(applicationId, [input.EventType!], cancellationToken)).Contains(input.EventType!))
        {
            throw ApiError.Invalid("eventType", $"'{input.EventType}' is not a registered event type of this application.");
        }
        if (application.ValidatePayloads && await schemas.GetAsync(applicationId, input.EventType!, cancellationToken) is { } schema)
            RequireValid(schema, input.Payload);

        var now = DatabaseTime.Now(time);
        var committed = await ingest.CommitAsync(
            new NewMessage(SortableId.New("msg", now), applicationId, input.EventType!, input.EventId, payload, now, idempotencyKey, channels, tags,
                input.Retention is { } seconds ? now.AddSeconds(seconds) : null), cancellationToken);
        var message = committed.Message;
        if (!committed.Existing) metrics.Accepted(applicationId, message.EventType);
        // A repeat answers with the message as it is now: its payload may have been expunged since.
        if (committed.Existing) return (await GetAsync(caller, applicationId, message.Id, cancellationToken), true);
        return (new MessageResponse(message.Id, message.EventType, message.EventId, RawJson.From(message.Payload), message.CreatedAt,
            message.Channels, message.Tags), committed.Existing);
    }

    /// <summary>A 400 naming each place the payload breaks its event type's schema ("payload/amount") and the keyword.</summary>
    private static void RequireValid(EventSchema schema, JsonElement payload)
    {
        var violations = schema.Validate(payload);
        if (violations.Count == 0) return;
        var validation = new Validation();
        foreach (var violation in violations)
            validation.Add("payload" + violation.Path, $"{violation.Keyword}: {violation.Message}");
        validation.ThrowIfInvalid();
    }

    /// <summary>
    /// Erases the message's payload now. The message, its deliveries and its attempts stay; the message is marked
    /// expunged, its attempts' response bodies are cleared, its deliveries not yet finished (pending, paused) are ended
    /// as failed with <c>expunged</c> (a delivery that is not pending cannot be claimed, so no attempt follows), and the
    /// idempotent response that repeated the payload is forgotten (a repeat of the request then answers with the
    /// message as it is now). Expunging again changes nothing. Copies already in Kafka records stay until the topics'
    /// retention; nothing Herald sends is read from them once the deliveries are ended.
    /// </summary>
    public async Task<MessageResponse> ExpungeAsync(Caller caller, string applicationId, string messageId, CancellationToken cancellationToken)
    {
        caller.RequireChangeTo(applicationId);
        var now = DatabaseTime.Now(time);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        string? idempotencyKey;
        await using (var expunge = new NpgsqlCommand("""
            UPDATE messages SET payload = NULL, expunged_at = coalesce(expunged_at, $3)
            WHERE application_id = $1 AND id = $2 RETURNING idempotency_key
            """, connection, transaction))
        {
            expunge.Parameters.Add(new() { Value = applicationId });
            expunge.Parameters.Add(new() { Value = messageId });
            expunge.Parameters.Add(new() { Value = now });
            await using var reader = await expunge.ExecuteReaderAsync(cancellationToken);
            if (!await reader.ReadAsync(cancellationToken)) throw ApiError.NotFound("message");
            idempotencyKey = reader.IsDBNull(0) ? null : reader.GetString(0);
        }

        await using (var rest = new NpgsqlBatch(connection, transaction))
        {
            // Not yet published: never publish it (the relay would carry no payload).
            rest.BatchCommands.Add(Command("DELETE FROM message_outbox WHERE message_id = $1", messageId));
            rest.BatchCommands.Add(Command($"""
                UPDATE deliveries SET status = '{DeliveryStatus.Failed}', next_attempt_at = NULL, last_error = '{ExpungedError}', updated_at = $2
                WHERE message_id = $1 AND status IN ('{DeliveryStatus.Pending}', '{DeliveryStatus.Paused}', '{DeliveryStatus.Queued}')
                """, messageId, now));
            rest.BatchCommands.Add(Command("UPDATE delivery_attempts SET response_body = NULL WHERE message_id = $1 AND response_body IS NOT NULL", messageId));
            if (idempotencyKey?.Split('\n', 2) is [var scope, var key])
                rest.BatchCommands.Add(Command("DELETE FROM idempotency_keys WHERE scope = $1 AND key = $2", scope, key));
            await rest.ExecuteNonQueryAsync(cancellationToken);
        }
        await transaction.CommitAsync(cancellationToken);
        return await GetAsync(caller, applicationId, messageId, cancellationToken);

        static NpgsqlBatchCommand Command(string sql, params object[] values)
        {
            var command = new NpgsqlBatchCommand(sql);
            foreach (var value in values) command.Parameters.Add(new() { Value = value });
            return command;
        }
    }

    /// <summary>The last_error of a delivery ended because its message was expunged.</summary>
    public const string ExpungedError = "expunged";

    public async Task<MessageResponse> GetAsync(Caller caller, string applicationId, string messageId, CancellationToken cancellationToken)
    {
        caller.RequireAccessTo(applicationId);
        await using var query = dataSource.CreateCommand(
            "SELECT id, event_type, event_id, payload::text, created_at, channels, tags, expunged_at FROM messages WHERE application_id = $1 AND id = $2");
        query.Parameters.Add(new() { Value = applicationId });
        query.Parameters.Add(new() { Value = messageId });
        await using var reader = await query.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? Read(reader) : throw ApiError.NotFound("message");
    }

    /// <summary>Newest first.</summary>
    public async Task<Page<MessageResponse>> ListAsync(Caller caller, string applicationId, MessageFilter filter, PageRequest page, CancellationToken cancellationToken)
    {
        caller.RequireAccessTo(applicationId);
        await using var query = dataSource.CreateCommand("""
            SELECT id, event_type, event_id, payload::text, created_at, channels, tags, expunged_at FROM messages
            WHERE application_id = $1
              AND ($2::text[] IS NULL OR event_type = ANY($2))
              AND ($3::timestamptz IS NULL OR created_at < $3)
              AND ($4::timestamptz IS NULL OR created_at > $4)
              AND ($5::text IS NULL OR EXISTS (SELECT 1 FROM deliveries d WHERE d.message_id = messages.id AND d.status = $5))
              AND ($6::text IS NULL OR channels @> ARRAY[$6])
              AND ($7::text IS NULL OR tags @> ARRAY[$7])
              AND ($8::text IS NULL OR id < $8)
            ORDER BY id DESC LIMIT $9
            """);
        query.Parameters.Add(new() { Value = applicationId });
        query.Parameters.Add(new() { Value = (object?)filter.EventTypes ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
        query.Parameters.Add(new() { Value = (object?)filter.Before ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.TimestampTz });
        query.Parameters.Add(new() { Value = (object?)filter.After ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.TimestampTz });
        query.Parameters.Add(new() { Value = (object?)filter.Status ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        query.Parameters.Add(new() { Value = (object?)filter.Channel ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        query.Parameters.Add(new() { Value = (object?)filter.Tag ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        return await page.ReadAsync(query, Read, m => m.Id, cancellationToken);
    }

    private static MessageResponse Read(NpgsqlDataReader reader) => new(
        reader.GetString(0),
        reader.GetString(1),
        reader.IsDBNull(2) ? null : reader.GetString(2),
        RawJson.From(reader.IsDBNull(3) ? null : reader.GetString(3)),
        reader.GetFieldValue<DateTimeOffset>(4),
        reader.IsDBNull(5) ? null : reader.GetFieldValue<string[]>(5),
        reader.IsDBNull(6) ? null : reader.GetFieldValue<string[]>(6),
        reader.IsDBNull(7) ? null : reader.GetFieldValue<DateTimeOffset>(7));
}
