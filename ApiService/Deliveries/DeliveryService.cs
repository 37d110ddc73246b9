using Herald.ApiService.Applications;
using Herald.ApiService.Auth;
using Herald.ApiService.Http;
using Herald.ApiService.Problems;
using Herald.Database;
using Herald.Deliveries;
using System.Diagnostics;
using System.Text.Json;
using Herald.ApiService.EventTypes;
using Herald.ApiService.Messages;
using Herald.Messages;
using Herald.ServiceDefaults.Telemetry;
using Npgsql;
using NpgsqlTypes;

namespace Herald.ApiService.Deliveries;

/// <summary>
/// Replay and observation of deliveries (one row per message × endpoint). Replaying only marks rows pending and due
/// now: the Processor's scheduler picks every due pending row up from PostgreSQL within about a second. To a FIFO
/// endpoint, a replay joins the end of its line instead (several in accept order), behind whatever is waiting.
/// </summary>
public sealed class DeliveryService(
    NpgsqlDataSource dataSource,
    ApplicationService applications,
    DeliveryFeed feed,
    TimeProvider time)
{
    private const string Columns = "message_id, endpoint_id, status, attempts, next_attempt_at, last_error, updated_at";

    /// <summary>Delivers the message to the endpoint again, whatever happened before (an attempt count is kept, so
    /// the engine's schedule decides how often a failure is retried).</summary>
    public async Task<DeliveryResponse> ResendAsync(Caller caller, string applicationId, string messageId, string endpointId, CancellationToken cancellationToken)
    {
        caller.RequireChangeTo(applicationId);
        var now = DatabaseTime.Now(time);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);

        // Shared locks: retention cannot drop the payload, nor an update disable the endpoint, between check and upsert.
        bool fifo;
        await using (var check = new NpgsqlCommand("""
            SELECT (SELECT payload IS NOT NULL FROM messages WHERE application_id = $1 AND id = $2 FOR SHARE),
                   (SELECT disabled FROM endpoints WHERE application_id = $1 AND id = $3 FOR SHARE),
                   (SELECT expunged_at IS NOT NULL FROM messages WHERE application_id = $1 AND id = $2),
                   (SELECT ordering FROM endpoints WHERE application_id = $1 AND id = $3)
            """, connection, transaction))
        {
            check.Parameters.Add(new() { Value = applicationId });
            check.Parameters.Add(new() { Value = messageId });
            check.Parameters.Add(new() { Value = endpointId });
            await using var reader = await check.ExecuteReaderAsync(cancellationToken);
            await reader.ReadAsync(cancellationToken);
            if (reader.IsDBNull(0)) throw ApiError.NotFound("message");
            if (reader.IsDBNull(1)) throw ApiError.NotFound("endpoint");
            if (!reader.GetBoolean(0))
            {
                throw new ApiError(ApiErrorKind.WrongState, reader.GetBoolean(2)
                    ? "The message's payload was expunged, so it cannot be sent again."
                    : "The message's payload is no longer retained, so it cannot be sent again.");
            }
            if (reader.GetBoolean(1))
                throw new ApiError(ApiErrorKind.WrongState, "The endpoint is disabled; enable it to resend to it.");
            fifo = reader.GetString(3) == EndpointOrdering.Fifo;
        }

        DeliveryResponse delivery;
        // To a FIFO endpoint: a finished delivery goes to the end of the line; one in line stays where it is; the head, if
        // retrying, is due now.
        var finished = $"deliveries.status IN ('{DeliveryStatus.Succeeded}', '{DeliveryStatus.Failed}')";
        await using (var upsert = new NpgsqlCommand(fifo ? $"""
            INSERT INTO deliveries (message_id, endpoint_id, application_id, status, attempts, queue_position, created_at, updated_at)
            VALUES ($1, $2, $3, '{DeliveryStatus.Queued}', 0, nextval('delivery_queue_positions'), $4, $4)
            ON CONFLICT (message_id, endpoint_id) DO UPDATE SET
                status = CASE WHEN {finished} THEN '{DeliveryStatus.Queued}' ELSE deliveries.status END,
                queue_position = CASE WHEN {finished} THEN nextval('delivery_queue_positions') ELSE deliveries.queue_position END,
                next_attempt_at = CASE WHEN {finished} THEN NULL WHEN deliveries.status = '{DeliveryStatus.Pending}' THEN $4 ELSE deliveries.next_attempt_at END,
                updated_at = $4
            RETURNING {Columns}
            """ : $"""
            INSERT INTO deliveries (message_id, endpoint_id, application_id, status, attempts, next_attempt_at, created_at, updated_at)
            VALUES ($1, $2, $3, '{DeliveryStatus.Pending}', 0, $4, $4, $4)
            ON CONFLICT (message_id, endpoint_id) DO UPDATE SET status = '{DeliveryStatus.Pending}', next_attempt_at = $4, updated_at = $4
            RETURNING {Columns}
            """, connection, transaction))
        {
            upsert.Parameters.Add(new() { Value = messageId });
            upsert.Parameters.Add(new() { Value = endpointId });
            upsert.Parameters.Add(new() { Value = applicationId });
            upsert.Parameters.Add(new() { Value = now });
            await using var reader = await upsert.ExecuteReaderAsync(cancellationToken);
            await reader.ReadAsync(cancellationToken);
            delivery = Read(reader);
        }
        await transaction.CommitAsync(cancellationToken);
        return delivery;
    }

    /// <summary>Sends a test event to one endpoint, whatever event types it subscribes to: a message created with its
    /// one delivery, due now, and never fanned out to other endpoints (it goes when the endpoint does).</summary>
    public async Task<MessageResponse> SendTestEventAsync(Caller caller, string applicationId, string endpointId, TestEventInput input,
        CancellationToken cancellationToken)
    {
        caller.RequireChangeTo(applicationId);
        var eventType = input.EventType ?? TestEventInput.DefaultEventType;
        if (!EventTypeName.IsValid(eventType)) throw ApiError.Invalid("eventType", EventTypeName.Rule);
        var now = DatabaseTime.Now(time);
        var id = SortableId.New("msg", now);
        var payload = JsonSerializer.Serialize(new TestEventPayload(eventType, endpointId, now), TestEventJson);

        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var fifo = await RequireEnabledEndpointAsync(connection, transaction, applicationId, endpointId, "to send it a test event", cancellationToken);
        // To a FIFO endpoint it waits its turn like any message.
        await using (var insert = new NpgsqlCommand($"""
            WITH message AS (
                INSERT INTO messages (id, application_id, event_type, payload, created_at, trace_parent, endpoint_id)
                VALUES ($1, $2, $3, $4::json, $5, $6, $7))
            INSERT INTO deliveries (message_id, endpoint_id, application_id, status, attempts, next_attempt_at, queue_position, created_at, updated_at)
            VALUES ($1, $7, $2, {(fifo ? $"'{DeliveryStatus.Queued}', 0, NULL, nextval('delivery_queue_positions')" : $"'{DeliveryStatus.Pending}', 0, $5, NULL")}, $5, $5)
            """, connection, transaction))
        {
            insert.Parameters.Add(new() { Value = id });
            insert.Parameters.Add(new() { Value = applicationId });
            insert.Parameters.Add(new() { Value = eventType });
            insert.Parameters.Add(new() { Value = payload });
            insert.Parameters.Add(new() { Value = now });
            insert.Parameters.Add(new() { Value = (object?)TracePropagation.Format(Activity.Current?.Context ?? default) ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
            insert.Parameters.Add(new() { Value = endpointId });
            await insert.ExecuteNonQueryAsync(cancellationToken);
        }
        await transaction.CommitAsync(cancellationToken);
        return new MessageResponse(id, eventType, null, RawJson.From(payload), now);
    }

    /// <summary>The application's endpoint, enabled, and kept so (a shared lock) until the transaction ends: an update
    /// cannot disable it, make it FIFO or not, nor a delete remove it, in between. Returns whether it is FIFO.</summary>
    private static async Task<bool> RequireEnabledEndpointAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string applicationId,
        string endpointId, string toDo, CancellationToken cancellationToken)
    {
        await using var check = new NpgsqlCommand(
            "SELECT disabled, ordering FROM endpoints WHERE application_id = $1 AND id = $2 FOR SHARE", connection, transaction);
        check.Parameters.Add(new() { Value = applicationId });
        check.Parameters.Add(new() { Value = endpointId });
        await using var reader = await check.ExecuteReaderAsync(cancellationToken);
        if (!await reader.ReadAsync(cancellationToken)) throw ApiError.NotFound("endpoint");
        if (reader.GetBoolean(0)) throw new ApiError(ApiErrorKind.WrongState, $"The endpoint is disabled; enable it {toDo}.");
        return reader.GetString(1) == EndpointOrdering.Fifo;
    }

    private static readonly JsonSerializerOptions TestEventJson = new(JsonSerializerDefaults.Web);

    private sealed record TestEventPayload(string Type, string EndpointId, DateTimeOffset SentAt)
    {
        public string Note => "A test event sent from the Herald portal or API; it went to this endpoint only.";
    }

    /// <summary>Makes every failed (dead-lettered) delivery of the endpoint updated at or after <paramref name="since"/>
    /// due now. Deliveries whose payload is past retention cannot be sent and stay failed.</summary>
    public async Task<RecoverResponse> RecoverAsync(Caller caller, string applicationId, string endpointId, DateTimeOffset? since, CancellationToken cancellationToken)
    {
        caller.RequireChangeTo(applicationId);
        var now = DatabaseTime.Now(time);
        if (since is null) throw ApiError.Invalid("since", $"Required. {Rfc3339.Rule}");
        if (since > now) throw ApiError.Invalid("since", "Must not be in the future.");

        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var fifo = await RequireEnabledEndpointAsync(connection, transaction, applicationId, endpointId, "before recovering its deliveries", cancellationToken);

        int recovered;
        const string Recoverable = $"""
            d.application_id = $1 AND d.endpoint_id = $2 AND d.status = '{DeliveryStatus.Failed}' AND d.updated_at >= $4
              AND EXISTS (SELECT 1 FROM messages m WHERE m.id = d.message_id AND m.payload IS NOT NULL)
            """;
        // To a FIFO endpoint they join the end of its line in accept order (positions drawn in message id order).
        await using (var recover = new NpgsqlCommand(fifo ? $"""
            UPDATE deliveries SET status = '{DeliveryStatus.Queued}', queue_position = r.position, next_attempt_at = NULL, updated_at = $3
            FROM (SELECT message_id, nextval('delivery_queue_positions') AS position
                  FROM (SELECT d.message_id FROM deliveries d WHERE {Recoverable} ORDER BY d.message_id FOR UPDATE) ordered) r
            WHERE deliveries.endpoint_id = $2 AND deliveries.message_id = r.message_id
            """ : $"""
            UPDATE deliveries d SET status = '{DeliveryStatus.Pending}', next_attempt_at = $3, updated_at = $3
            WHERE {Recoverable}
            """, connection, transaction))
        {
            recover.Parameters.Add(new() { Value = applicationId });
            recover.Parameters.Add(new() { Value = endpointId });
            recover.Parameters.Add(new() { Value = now });
            recover.Parameters.Add(new() { Value = since.Value });
            recovered = await recover.ExecuteNonQueryAsync(cancellationToken);
        }
        await transaction.CommitAsync(cancellationToken);
        return new RecoverResponse(recovered);
    }

    /// <summary>The message's delivery to each endpoint, by endpoint id.</summary>
    public async Task<Page<DeliveryResponse>> ListAsync(Caller caller, string applicationId, string messageId, PageRequest page, CancellationToken cancellationToken)
    {
        caller.RequireAccessTo(applicationId);
        await using var query = dataSource.CreateCommand($"""
            SELECT {Columns} FROM deliveries
            WHERE application_id = $1 AND message_id = $2 AND ($3::text IS NULL OR endpoint_id > $3)
            ORDER BY endpoint_id LIMIT $4
            """);
        query.Parameters.Add(new() { Value = applicationId });
        query.Parameters.Add(new() { Value = messageId });
        var deliveries = await page.ReadAsync(query, Read, d => d.EndpointId, cancellationToken);
        if (deliveries.Data.Count == 0 && !await MessageExistsAsync(applicationId, messageId, cancellationToken)) throw ApiError.NotFound("message");
        return deliveries;
    }

    /// <summary>Outcomes of the application's attempts (only <paramref name="endpointId"/>'s, if given) from now on.
    /// The subscription is live when this returns, so nothing published afterwards is missed.</summary>
    public async Task<DeliverySubscription> WatchAsync(Caller caller, string applicationId, string? endpointId, CancellationToken cancellationToken)
    {
        caller.RequireAccessTo(applicationId);
        if (endpointId is null)
        {
            if (await applications.FindAsync(applicationId, cancellationToken) is null) throw ApiError.NotFound("application");
        }
        else
        {
            await using var query = dataSource.CreateCommand("SELECT 1 FROM endpoints WHERE application_id = $1 AND id = $2");
            query.Parameters.Add(new() { Value = applicationId });
            query.Parameters.Add(new() { Value = endpointId });
            if (await query.ExecuteScalarAsync(cancellationToken) is null) throw ApiError.NotFound("endpoint");
        }
        return await feed.SubscribeAsync(applicationId, endpointId, cancellationToken);
    }

    private async Task<bool> MessageExistsAsync(string applicationId, string messageId, CancellationToken cancellationToken)
    {
        await using var query = dataSource.CreateCommand("SELECT 1 FROM messages WHERE application_id = $1 AND id = $2");
        query.Parameters.Add(new() { Value = applicationId });
        query.Parameters.Add(new() { Value = messageId });
        return await query.ExecuteScalarAsync(cancellationToken) is not null;
    }

    private static DeliveryResponse Read(NpgsqlDataReader reader) => new(
        reader.GetString(0),
        reader.GetString(1),
        reader.GetString(2),
        reader.GetInt32(3),
        reader.IsDBNull(4) ? null : reader.GetFieldValue<DateTimeOffset>(4),
        reader.IsDBNull(5) ? null : reader.GetString(5),
        reader.GetFieldValue<DateTimeOffset>(6));
}
