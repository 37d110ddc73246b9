using Herald.Database;
using Herald.Deliveries;
using Herald.Processor.Delivery;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Herald.Processor.Scheduling;

/// <summary>
/// Enqueues every delivery whose next attempt is due: retries when their time comes, and any attempt whose task was
/// lost (a crash, a Kafka outage) once its lease expires. PostgreSQL is the source of truth for what is due, so this
/// survives restarts of the Processor, Kafka and Redis. Every replica runs it; <c>FOR UPDATE SKIP LOCKED</c> gives
/// each due row to exactly one, which leases it before enqueuing.
/// </summary>
internal sealed class DueDeliveries(
    NpgsqlDataSource dataSource,
    DeliveryTaskPublisher publisher,
    DeliveryClaims claims,
    IOptions<DeliveryOptions> options,
    TimeProvider time,
    ILogger<DueDeliveries> logger) : BackgroundService
{
    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        DatabasePasses.RunAsync(options.Value.SchedulerInterval, options.Value.SchedulerBatchSize, EnqueueDueAsync,
            "look for due deliveries", time, logger, stoppingToken);

    public async Task<int> EnqueueDueAsync(CancellationToken cancellationToken)
    {
        var now = DatabaseTime.Now(time);
        var tasks = new List<DeliveryTask>();
        var expired = new List<(string MessageId, string EndpointId)>();
        await using (var claim = dataSource.CreateCommand($"""
            WITH due AS (
                SELECT message_id, endpoint_id FROM deliveries
                WHERE status = '{DeliveryStatus.Pending}' AND next_attempt_at <= $1
                  -- A Processor that claimed the attempt is still sending it; a stale claim is released here.
                  AND (claimed_attempt <= attempts OR claimed_at < $4)
                ORDER BY next_attempt_at
                LIMIT $3
                FOR UPDATE SKIP LOCKED),
            leased AS (
                UPDATE deliveries d SET next_attempt_at = $2, claimed_attempt = d.attempts
                FROM due WHERE d.message_id = due.message_id AND d.endpoint_id = due.endpoint_id
                RETURNING d.message_id, d.endpoint_id, d.application_id, d.attempts, d.queue_position IS NOT NULL AS ordered)
            SELECT l.message_id, l.endpoint_id, l.application_id, l.attempts, m.event_type, m.payload::text, m.created_at, m.trace_parent, l.ordered
            FROM leased l JOIN messages m ON m.id = l.message_id
            """))
        {
            claim.Parameters.Add(new() { Value = now });
            claim.Parameters.Add(new() { Value = now + options.Value.Lease });
            claim.Parameters.Add(new() { Value = options.Value.SchedulerBatchSize });
            claim.Parameters.Add(new() { Value = now - claims.Timeout });
            await using var reader = await claim.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                if (reader.IsDBNull(5))
                {
                    expired.Add((reader.GetString(0), reader.GetString(1)));
                    continue;
                }
                tasks.Add(new DeliveryTask(reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.GetString(4),
                    reader.GetString(5), reader.GetFieldValue<DateTimeOffset>(6), Attempt: reader.GetInt32(3) + 1, EnqueuedAt: now)
                {
                    // A retry continues its message's trace, however much later it runs.
                    TraceParent = reader.IsDBNull(7) ? null : reader.GetString(7),
                    Ordered = reader.GetBoolean(8),
                });
            }
        }

        if (expired.Count > 0) await DeadLetterAsync(expired, now, cancellationToken);
        await publisher.PublishAsync(tasks);
        if (tasks.Count > 0) logger.LogDebug("Enqueued {Count} due deliveries", tasks.Count);
        return tasks.Count + expired.Count;
    }

    // The payload is gone (retention): there is nothing left to send.
    private async Task DeadLetterAsync(IReadOnlyList<(string MessageId, string EndpointId)> expired, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var update = dataSource.CreateCommand($"""
            UPDATE deliveries d SET status = '{DeliveryStatus.Failed}', next_attempt_at = NULL, last_error = 'payload expired (retention)', updated_at = $3
            FROM unnest($1::text[], $2::text[]) AS u(message_id, endpoint_id)
            WHERE d.message_id = u.message_id AND d.endpoint_id = u.endpoint_id
            """);
        update.Parameters.Add(new() { Value = expired.Select(e => e.MessageId).ToArray() });
        update.Parameters.Add(new() { Value = expired.Select(e => e.EndpointId).ToArray() });
        update.Parameters.Add(new() { Value = now });
        await update.ExecuteNonQueryAsync(cancellationToken);
    }
}
