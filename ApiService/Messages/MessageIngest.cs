using System.Diagnostics;
using Herald.ApiService.Problems;
using Herald.Database;
using Herald.Deliveries;
using Herald.ServiceDefaults.Telemetry;
using Microsoft.Extensions.Options;
using Npgsql;
using NpgsqlTypes;

namespace Herald.ApiService.Messages;

/// <summary>A message accepted for commit: its id and time are fixed before it is queued.</summary>
/// <param name="IdempotencyKey">The scoped idempotency key of the request that created it, if any.</param>
/// <param name="PayloadExpiresAt">When its own retention ends; null: the global retention applies.</param>
public sealed record NewMessage(string Id, string ApplicationId, string EventType, string? EventId, string Payload, DateTimeOffset CreatedAt,
    string? IdempotencyKey = null, string[]? Channels = null, string[]? Tags = null, DateTimeOffset? PayloadExpiresAt = null)
{
    /// <summary>Its commit put it in at least one FIFO endpoint's line.</summary>
    public bool Queued { get; init; }
}

/// <summary>
/// Group commit (<see cref="GroupCommit{TItem, TResult}"/>): concurrent create-message requests are committed together
/// as one multi-row INSERT — one transaction, one fsync, for many requests. Under light load a batch is a single
/// message and adds no delay; under heavy load batches grow up to <see cref="MessageOptions.MaxBatchSize"/>. A request
/// completes only after its transaction commits. A message whose eventId, or idempotency key, was already used is not
/// inserted: the one that was is returned. Each message takes its place in the line of every FIFO endpoint it is for in
/// the same transaction, so a message accepted before another is always ahead of it there.
/// </summary>
public sealed class MessageIngest : IAsyncDisposable
{
    private readonly GroupCommit<Pending, Committed> _commits;
    private readonly NpgsqlDataSource _dataSource;
    private readonly MessagePublisher _publisher;
    private readonly TimeSpan _commitTimeout;
    private readonly ILogger<MessageIngest> _logger;

    public MessageIngest(NpgsqlDataSource dataSource, MessagePublisher publisher, IOptions<MessageOptions> options, ILogger<MessageIngest> logger)
    {
        _dataSource = dataSource;
        _publisher = publisher;
        _commitTimeout = options.Value.CommitTimeout;
        _logger = logger;
        _commits = new GroupCommit<Pending, Committed>(CommitBatchAsync, OnFailure, options.Value.Writers, options.Value.MaxBatchSize, logger);
    }

    /// <summary>Commits the message; returns the committed message, or the existing one when its eventId or idempotency
    /// key was already used. The caller stops waiting after <see cref="MessageOptions.CommitTimeout"/> (or when it
    /// leaves), but a queued commit goes ahead: the id is already decided.</summary>
    public async Task<Committed> CommitAsync(NewMessage message, CancellationToken cancellationToken)
    {
        // The writer commits it outside this request's flow: take the request's trace along.
        var committed = _commits.SubmitAsync(new Pending(message, Activity.Current?.Context ?? default));
        try
        {
            return await committed.WaitAsync(_commitTimeout, cancellationToken);
        }
        catch (TimeoutException)
        {
            throw new ApiError(ApiErrorKind.Unavailable, $"The message was not committed within {_commitTimeout.TotalSeconds:0.#} s; " +
                "retry with the same idempotency-key or eventId (it may yet be committed).") { RetryAfter = TimeSpan.FromSeconds(1) };
        }
        catch (ObjectDisposedException)
        {
            throw new ApiError(ApiErrorKind.Unavailable, "The service is shutting down; retry against another instance.");
        }
    }

    private FailedBatch OnFailure(Exception exception, int failures) => exception switch
    {
        // One bad row fails the whole statement: commit the rows one by one so only that request fails, with its reason.
        PostgresException { SqlState: PostgresErrorCodes.ForeignKeyViolation } => new FailedBatch(FailedBatchAction.OneByOne, Exception: ApiError.NotFound("application")),
        PostgresException postgres when postgres.SqlState.StartsWith("22", StringComparison.Ordinal) =>
            new FailedBatch(FailedBatchAction.OneByOne, Exception: ApiError.Invalid("payload", $"PostgreSQL cannot store this payload: {postgres.MessageText}")),
        _ => Unavailable(exception),
    };

    private FailedBatch Unavailable(Exception exception)
    {
        _logger.LogError(exception, "Could not commit messages");
        return FailedBatch.Fail(new ApiError(ApiErrorKind.Unavailable, "The message could not be stored right now; retry shortly.")
        {
            RetryAfter = TimeSpan.FromSeconds(1),
        });
    }

    private async Task<IReadOnlyList<Committed>> CommitBatchAsync(IReadOnlyList<Pending> batch)
    {
        var count = batch.Count;
        var ids = new string[count];
        var applications = new string[count];
        var types = new string[count];
        var eventIds = new string?[count];
        var payloads = new string[count];
        var times = new DateTimeOffset[count];
        var traces = new string?[count];
        var idempotencyKeys = new string?[count];
        var channels = new string?[count];
        var tags = new string?[count];
        var expiries = new DateTimeOffset?[count];
        for (var i = 0; i < count; i++)
        {
            var m = batch[i].Message;
            (ids[i], applications[i], types[i], eventIds[i], payloads[i], times[i], idempotencyKeys[i]) =
                (m.Id, m.ApplicationId, m.EventType, m.EventId, m.Payload, m.CreatedAt, m.IdempotencyKey);
            // Labels hold no comma (RoutingLabels), so a list travels as one string: unnest cannot take ragged arrays.
            (channels[i], tags[i]) = (Joined(m.Channels), Joined(m.Tags));
            traces[i] = TracePropagation.Format(batch[i].Trace);
            expiries[i] = m.PayloadExpiresAt;
        }

        var inserted = new Dictionary<string, bool>(StringComparer.Ordinal); // id → queued in a FIFO line
        await using var connection = await _dataSource.OpenConnectionAsync();
        // Each message inserted goes into the outbox with it, and into FIFO endpoints' lines, in the same statement (one
        // transaction).
        await using (var insert = new NpgsqlCommand($"""
            WITH inserted AS (
                INSERT INTO messages (id, application_id, event_type, event_id, payload, created_at, trace_parent, idempotency_key, channels, tags,
                                      payload_expires_at)
                SELECT u.id, u.application_id, u.event_type, u.event_id, u.payload, u.created_at, u.trace_parent, u.idempotency_key,
                       string_to_array(u.channels, ','), string_to_array(u.tags, ','), u.payload_expires_at
                FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::json[], $6::timestamptz[], $7::text[], $8::text[], $9::text[], $10::text[],
                            $11::timestamptz[])
                    AS u(id, application_id, event_type, event_id, payload, created_at, trace_parent, idempotency_key, channels, tags, payload_expires_at)
                ON CONFLICT DO NOTHING
                RETURNING *),
            outbox AS (
                INSERT INTO message_outbox (message_id, created_at) SELECT id, created_at FROM inserted),
            lines AS (
                INSERT INTO deliveries (message_id, endpoint_id, application_id, status, attempts, queue_position, created_at, updated_at)
                SELECT m.id, e.id, e.application_id, '{DeliveryStatus.Queued}', 0, nextval('delivery_queue_positions'), m.created_at, m.created_at
                FROM inserted m
                JOIN endpoints e ON e.application_id = m.application_id AND e.ordering = '{EndpointOrdering.Fifo}' AND {Subscriptions.Match}
                RETURNING message_id)
            SELECT i.id, l.message_id IS NOT NULL FROM inserted i LEFT JOIN (SELECT DISTINCT message_id FROM lines) l ON l.message_id = i.id
            """, connection))
        {
            insert.Parameters.Add(new() { Value = ids });
            insert.Parameters.Add(new() { Value = applications });
            insert.Parameters.Add(new() { Value = types });
            insert.Parameters.Add(new() { Value = eventIds, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
            insert.Parameters.Add(new() { Value = payloads, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Json });
            insert.Parameters.Add(new() { Value = times });
            insert.Parameters.Add(new() { Value = traces, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
            insert.Parameters.Add(new() { Value = idempotencyKeys, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
            insert.Parameters.Add(new() { Value = channels, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
            insert.Parameters.Add(new() { Value = tags, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
            insert.Parameters.Add(new() { Value = expiries, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.TimestampTz });
            await using var reader = await insert.ExecuteReaderAsync();
            while (await reader.ReadAsync()) inserted[reader.GetString(0)] = reader.GetBoolean(1);
        }

        var results = new Committed[count];
        for (var i = 0; i < count; i++)
        {
            var pending = batch[i];
            if (inserted.TryGetValue(pending.Message.Id, out var queued))
            {
                var message = pending.Message with { Queued = queued };
                _publisher.Publish(message, pending.Trace);
                results[i] = new Committed(message, Existing: false);
            }
            else
            {
                results[i] = await FindExistingAsync(connection, pending.Message);
            }
        }
        return results;
    }

    private static string? Joined(string[]? labels) => labels is null or [] ? null : string.Join(',', labels);

    /// <summary>The message that holds <paramref name="message"/>'s idempotency key or eventId.</summary>
    private static async Task<Committed> FindExistingAsync(NpgsqlConnection connection, NewMessage message)
    {
        await using var query = new NpgsqlCommand("""
            SELECT id, event_type, payload::text, created_at, idempotency_key = $3, channels, tags FROM messages
            WHERE application_id = $1 AND (idempotency_key = $3 OR event_id = $2)
            ORDER BY idempotency_key = $3 DESC NULLS LAST
            LIMIT 1
            """, connection);
        query.Parameters.Add(new() { Value = message.ApplicationId });
        query.Parameters.Add(new() { Value = (object?)message.EventId ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        query.Parameters.Add(new() { Value = (object?)message.IdempotencyKey ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        await using var reader = await query.ExecuteReaderAsync();
        if (!await reader.ReadAsync()) throw new InvalidOperationException($"Message {message.Id} conflicted with one that vanished.");
        return new Committed(message with
        {
            Id = reader.GetString(0),
            EventType = reader.GetString(1),
            Payload = reader.IsDBNull(2) ? "null" : reader.GetString(2),
            CreatedAt = reader.GetFieldValue<DateTimeOffset>(3),
            Channels = reader.IsDBNull(5) ? null : reader.GetFieldValue<string[]>(5),
            Tags = reader.IsDBNull(6) ? null : reader.GetFieldValue<string[]>(6),
        }, Existing: true);
    }

    /// <summary>Commits what is queued, then stops. Runs after the web server has stopped taking requests.</summary>
    public ValueTask DisposeAsync() => _commits.DisposeAsync();

    public sealed record Committed(NewMessage Message, bool Existing);

    /// <param name="Trace">The create-message request's span: parent of the publication, stored with the row.</param>
    private sealed record Pending(NewMessage Message, ActivityContext Trace);
}
