using Herald.Database;
using Herald.Deliveries;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Herald.Processor.Delivery;

public enum ClaimOutcome
{
    /// <summary>This Processor may send the attempt.</summary>
    Claimed,
    /// <summary>Nothing to send: the attempt is recorded already, the delivery is no longer pending, or it is gone.</summary>
    Settled,
    /// <summary>Another Processor claimed the attempt and may still be sending it: try again after <see cref="Claim.RetryAfter"/>
    /// (by then its claim is stale, should that Processor have died).</summary>
    Busy,
}

public readonly record struct Claim(ClaimOutcome Outcome, TimeSpan RetryAfter = default);

/// <summary>
/// Claims a delivery's attempt in PostgreSQL just before it is sent, so one attempt is sent by one Processor: a task
/// redelivered by Kafka to a partition's next owner, or held by a consumer that froze past its session, finds the
/// attempt recorded (and is dropped) or claimed (and waits until the claim is recorded or stale). Claims are group
/// committed, and durable: a claim lost in a PostgreSQL crash would let a copy of the task (a message the outbox relay
/// published again after the restart, whose attempt is sent but not yet recorded) claim and send the attempt a second
/// time.
/// </summary>
public sealed class DeliveryClaims : IAsyncDisposable
{
    private readonly GroupCommit<DeliveryTask, Claim> _commits;
    private readonly NpgsqlDataSource _dataSource;
    private readonly IOptions<DeliveryOptions> _options;
    private readonly TimeProvider _time;

    public DeliveryClaims(NpgsqlDataSource dataSource, IOptions<DeliveryOptions> options, TimeProvider time, ILogger<DeliveryClaims> logger)
    {
        _dataSource = dataSource;
        _options = options;
        _time = time;
        // PostgreSQL down: the attempt waits for it (nothing could be recorded anyway); a bug fails the batch.
        _commits = new GroupCommit<DeliveryTask, Claim>(ClaimAsync,
            (exception, failures) => exception is NpgsqlException or TimeoutException
                ? FailedBatch.Backoff(failures, TimeSpan.FromSeconds(1))
                : FailedBatch.Fail(),
            writers: 2, maxBatchSize: 500, logger);
    }

    /// <summary>How long a claim holds: a send (at most the request timeout) and its recording, with room to spare.</summary>
    public TimeSpan Timeout => _options.Value.RequestTimeout + TimeSpan.FromSeconds(15);

    public Task<Claim> ClaimAsync(DeliveryTask task) => _commits.SubmitAsync(task);

    private async Task<IReadOnlyList<Claim>> ClaimAsync(IReadOnlyList<DeliveryTask> tasks)
    {
        var now = DatabaseTime.Now(_time);
        var timeout = Timeout;
        await using var connection = await _dataSource.OpenConnectionAsync();
        await using var batch = new NpgsqlBatch(connection);
        // One row per task, in order: 0 claimed now; 1 claimed by another Processor (or by a copy of the same task in this
        // batch: a row is updated once), since claimed_at; 2 settled.
        var claim = new NpgsqlBatchCommand($"""
            WITH wanted AS (
                SELECT * FROM unnest($1::text[], $2::text[], $3::int[]) WITH ORDINALITY AS u(message_id, endpoint_id, attempt, n)),
            claimed AS (
                UPDATE deliveries d SET claimed_attempt = w.attempt, claimed_at = $4
                FROM wanted w
                WHERE d.message_id = w.message_id AND d.endpoint_id = w.endpoint_id
                  AND d.status = '{DeliveryStatus.Pending}' AND d.attempts = w.attempt - 1
                  AND (d.claimed_attempt < w.attempt OR d.claimed_at < $5)
                RETURNING w.n)
            SELECT CASE WHEN c.n IS NOT NULL THEN 0
                        WHEN d.status = '{DeliveryStatus.Pending}' AND d.attempts = w.attempt - 1 THEN 1
                        ELSE 2 END,
                   d.claimed_at
            FROM wanted w
            LEFT JOIN claimed c ON c.n = w.n
            LEFT JOIN deliveries d ON d.message_id = w.message_id AND d.endpoint_id = w.endpoint_id
            ORDER BY w.n
            """);
        claim.Parameters.Add(new() { Value = tasks.Select(t => t.MessageId).ToArray() });
        claim.Parameters.Add(new() { Value = tasks.Select(t => t.EndpointId).ToArray() });
        claim.Parameters.Add(new() { Value = tasks.Select(t => t.Attempt).ToArray() });
        claim.Parameters.Add(new() { Value = now });
        claim.Parameters.Add(new() { Value = now - timeout });
        batch.BatchCommands.Add(claim);

        var claims = new List<Claim>(tasks.Count);
        await using (var reader = await batch.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
            {
                claims.Add(reader.GetInt32(0) switch
                {
                    0 => new Claim(ClaimOutcome.Claimed),
                    1 => new Claim(ClaimOutcome.Busy, reader.IsDBNull(1)
                        ? TimeSpan.FromSeconds(1)
                        : Max(TimeSpan.FromSeconds(1), reader.GetFieldValue<DateTimeOffset>(1) + timeout - now)),
                    _ => new Claim(ClaimOutcome.Settled),
                });
            }
        }
        return claims;
    }

    private static TimeSpan Max(TimeSpan a, TimeSpan b) => a > b ? a : b;

    public ValueTask DisposeAsync() => _commits.DisposeAsync();
}
