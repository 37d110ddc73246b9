using Herald.Database;
using Herald.Deliveries;
using Herald.Processor.Delivery;
using Herald.Processor.Scheduling;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Herald.Processor.Fifo;

/// <summary>
/// Moves FIFO endpoints' lines on. Each FIFO endpoint has at most one delivery out of line (its head: pending, or paused
/// while the endpoint is disabled); the others are <see cref="DeliveryStatus.Queued"/> by queue position. Advancing an
/// endpoint with no head makes its first queued delivery the head, leased like any enqueued attempt, and enqueues its
/// next attempt: after a head succeeded or was dead-lettered (the worker), after fan-out queued messages (fan-out), and
/// every scheduler interval for whatever those missed (<see cref="FifoHeads"/>). The head of one endpoint is chosen
/// under a transaction-scoped advisory lock, so two replicas advancing it at once choose one head, not two; the unique
/// index <c>deliveries_fifo_head</c> holds the rule regardless.
/// </summary>
public sealed class FifoLines(
    NpgsqlDataSource dataSource,
    DeliveryTaskPublisher publisher,
    IOptions<DeliveryOptions> options,
    TimeProvider time,
    ILogger<FifoLines> logger)
{
    /// <summary>Advances these endpoints' lines (endpoints that are not FIFO, or already have a head, are left alone).
    /// Returns the heads it enqueued.</summary>
    public async Task<int> AdvanceAsync(IEnumerable<string> endpointIds, CancellationToken cancellationToken = default)
    {
        // Sorted, so two replicas take the locks in the same order and never deadlock.
        var ids = endpointIds.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToArray();
        if (ids.Length == 0) return 0;
        var now = DatabaseTime.Now(time);
        var tasks = new List<DeliveryTask>();
        try
        {
            await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
            // One round trip per pass: the batch is one transaction, and each statement sees what committed before it
            // (read committed), so the promotion, after the locks, sees every head another replica made.
            IReadOnlyList<(string MessageId, string EndpointId)> expired = [];
            do
            {
                await using var batch = new NpgsqlBatch(connection);
                var lockLines = new NpgsqlBatchCommand(
                    "SELECT pg_advisory_xact_lock(hashtextextended('herald.fifo:' || id, 0)) FROM unnest($1::text[]) AS id");
                lockLines.Parameters.Add(new() { Value = ids });
                batch.BatchCommands.Add(lockLines);
                // A head whose payload is gone (retention, expunged) cannot be sent: it is dead-lettered and the next
                // one taken, until a head can go or the line is empty.
                if (expired.Count > 0) batch.BatchCommands.Add(LeasedDeliveries.DeadLetter(expired, now));
                batch.BatchCommands.Add(Promote(ids, now));
                await using var reader = await batch.ExecuteReaderAsync(cancellationToken);
                await reader.NextResultAsync(cancellationToken);
                if (expired.Count > 0) await reader.NextResultAsync(cancellationToken);
                expired = await LeasedDeliveries.ReadAsync(reader, now, tasks, cancellationToken);
            }
            while (expired.Count > 0);
        }
        catch (PostgresException exception) when (exception.SqlState == PostgresErrorCodes.UniqueViolation)
        {
            // Another head appeared meanwhile (a resume, a resend): the line is moving. Heads an earlier pass made are
            // committed, and still go.
            logger.LogDebug("A FIFO line already had a head: {Reason}", exception.MessageText);
        }
        await publisher.PublishAsync(tasks);
        return tasks.Count;
    }

    private NpgsqlBatchCommand Promote(string[] ids, DateTimeOffset now)
    {
        var promote = new NpgsqlBatchCommand($"""
            WITH heads AS (
                SELECT next.message_id, next.endpoint_id
                FROM unnest($1::text[]) AS e(id)
                CROSS JOIN LATERAL (
                    SELECT q.message_id, q.endpoint_id FROM deliveries q
                    WHERE q.endpoint_id = e.id AND q.status = '{DeliveryStatus.Queued}'
                    ORDER BY q.queue_position LIMIT 1) next
                WHERE NOT EXISTS (SELECT 1 FROM deliveries head WHERE head.endpoint_id = e.id AND {FifoHead.Is("head")})),
            promoted AS (
                UPDATE deliveries d SET status = '{DeliveryStatus.Pending}', next_attempt_at = $2, claimed_attempt = d.attempts, updated_at = $3
                FROM heads h
                WHERE d.message_id = h.message_id AND d.endpoint_id = h.endpoint_id AND d.status = '{DeliveryStatus.Queued}'
                RETURNING d.message_id, d.endpoint_id, d.application_id, d.attempts, true AS ordered)
            SELECT {LeasedDeliveries.Columns}
            FROM promoted l JOIN messages m ON m.id = l.message_id
            """);
        promote.Parameters.Add(new() { Value = ids });
        promote.Parameters.Add(new() { Value = now + options.Value.Lease });
        promote.Parameters.Add(new() { Value = now });
        return promote;
    }

    /// <summary>FIFO endpoints with a line but no head, at most <paramref name="limit"/>: what the periodic pass advances.</summary>
    public async Task<IReadOnlyList<string>> StalledAsync(int limit, CancellationToken cancellationToken)
    {
        await using var query = dataSource.CreateCommand($"""
            SELECT e.id FROM endpoints e
            WHERE e.ordering = '{EndpointOrdering.Fifo}'
              AND EXISTS (SELECT 1 FROM deliveries q WHERE q.endpoint_id = e.id AND q.status = '{DeliveryStatus.Queued}')
              AND NOT EXISTS (SELECT 1 FROM deliveries head WHERE head.endpoint_id = e.id AND {FifoHead.Is("head")})
            LIMIT $1
            """);
        query.Parameters.Add(new() { Value = limit });
        var ids = new List<string>();
        await using var reader = await query.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken)) ids.Add(reader.GetString(0));
        return ids;
    }

    /// <summary>The application's FIFO endpoints (none, for most): fan-out advances them after queuing messages.</summary>
    public async Task<IReadOnlyList<string>> EndpointsOfAsync(IReadOnlyCollection<string> applicationIds, CancellationToken cancellationToken = default)
    {
        await using var query = dataSource.CreateCommand(
            $"SELECT id FROM endpoints WHERE application_id = ANY($1) AND ordering = '{EndpointOrdering.Fifo}'");
        query.Parameters.Add(new() { Value = applicationIds.ToArray() });
        var ids = new List<string>();
        await using var reader = await query.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken)) ids.Add(reader.GetString(0));
        return ids;
    }
}
