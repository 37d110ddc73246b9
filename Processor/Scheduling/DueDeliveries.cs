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
        IReadOnlyList<(string MessageId, string EndpointId)> expired;
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
            SELECT {LeasedDeliveries.Columns}
            FROM leased l JOIN messages m ON m.id = l.message_id
            """))
        {
            claim.Parameters.Add(new() { Value = now });
            claim.Parameters.Add(new() { Value = now + options.Value.Lease });
            claim.Parameters.Add(new() { Value = options.Value.SchedulerBatchSize });
            claim.Parameters.Add(new() { Value = now - claims.Timeout });
            await using var reader = await claim.ExecuteReaderAsync(cancellationToken);
            expired = await LeasedDeliveries.ReadAsync(reader, now, tasks, cancellationToken);
        }

        if (expired.Count > 0)
        {
            await using var deadLetter = dataSource.CreateBatch();
            deadLetter.BatchCommands.Add(LeasedDeliveries.DeadLetter(expired, now));
            await deadLetter.ExecuteNonQueryAsync(cancellationToken);
        }
        await publisher.PublishAsync(tasks);
        if (tasks.Count > 0) logger.LogDebug("Enqueued {Count} due deliveries", tasks.Count);
        return tasks.Count + expired.Count;
    }
}
