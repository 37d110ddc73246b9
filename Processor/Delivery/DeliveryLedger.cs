using Herald.Database;
using Herald.Deliveries;
using Herald.Operations;
using Npgsql;
using NpgsqlTypes;

namespace Herald.Processor.Delivery;

/// <summary>What one task did to its delivery: an attempt (with the decision it led to), or a deferral without one.</summary>
/// <param name="HeldClaim">The task had claimed its attempt (see <see cref="DeliveryClaims"/>); recording releases the
/// claim. A deferral without a claim never moves a delivery another Processor has claimed.</param>
public sealed record LedgerEntry(
    DeliveryTask Task,
    string Status,
    DateTimeOffset? NextAttemptAt,
    DateTimeOffset At,
    Attempt? Attempt = null,
    string? AttemptId = null,
    bool HeldClaim = false)
{
    /// <summary>Attempts the delivery has used after this entry.</summary>
    public int Attempts => Attempt is null ? Task.Attempt - 1 : Task.Attempt;
}

/// <summary>
/// Records attempts and moves deliveries on, in PostgreSQL, before the Kafka offset moves past their task. Concurrent
/// deliveries are committed together (<see cref="GroupCommit{TItem, TResult}"/>): one transaction with one INSERT and
/// one UPDATE for all that queued, so recording costs a round trip per batch, not per attempt. Until an entry is
/// recorded its task's offset cannot move, so a batch is retried while PostgreSQL is unreachable.
/// </summary>
public sealed class DeliveryLedger : IAsyncDisposable
{
    private readonly GroupCommit<LedgerEntry, bool> _commits;
    private readonly NpgsqlDataSource _dataSource;
    private readonly DeliveryClaims _claims;
    private readonly TimeProvider _time;

    public DeliveryLedger(NpgsqlDataSource dataSource, DeliveryClaims claims, TimeProvider time, ILogger<DeliveryLedger> logger)
    {
        _dataSource = dataSource;
        _claims = claims;
        _time = time;
        _commits = new GroupCommit<LedgerEntry, bool>(CommitAsync,
            (exception, failures) => exception switch
            {
                // A message or endpoint was deleted meanwhile: record the others; there is nothing left to record it against.
                PostgresException { SqlState: PostgresErrorCodes.ForeignKeyViolation } => failures == 1 ? FailedBatch.OneByOne : FailedBatch.Drop,
                // PostgreSQL may be restarting: try again soon (capped at 1 s, so a claim rarely outlives the outage).
                _ => FailedBatch.Backoff(failures, TimeSpan.FromSeconds(1)),
            },
            // A few writers so one batch's fsync overlaps the next batch's statements.
            writers: 4, maxBatchSize: 500, logger);
    }

    /// <summary>Completes once the entry is committed (or there is nothing left to record it against).</summary>
    public Task RecordAsync(LedgerEntry entry) => _commits.SubmitAsync(entry);

    private async Task<IReadOnlyList<bool>> CommitAsync(IReadOnlyList<LedgerEntry> batch)
    {
        var count = batch.Count;
        var messageIds = new string[count];
        var endpointIds = new string[count];
        var statuses = new string[count];
        var attempts = new int[count];
        var next = new DateTimeOffset?[count];
        var errors = new string?[count];
        var attempted = new bool[count];
        var at = new DateTimeOffset[count];
        var claimed = new bool[count];
        var recorded = batch.Where(e => e.Attempt is not null).ToList();
        List<OperationalEvent>? exhausted = null;
        for (var i = 0; i < count; i++)
        {
            var entry = batch[i];
            (messageIds[i], endpointIds[i], statuses[i], attempts[i], next[i], errors[i], attempted[i], at[i], claimed[i]) =
                (entry.Task.MessageId, entry.Task.EndpointId, entry.Status, entry.Attempts, entry.NextAttemptAt,
                 ErrorOf(entry.Attempt), entry.Attempt is not null, entry.At, entry.HeldClaim || entry.Attempt is not null);
            // Only a dead letter adds work (its operators' event); every other entry, the hot path, costs this test.
            if (entry is { Status: DeliveryStatus.Failed, Attempt: { } last } && OperationalEvents.AreEmittedFor(entry.Task.ApplicationId))
            {
                (exhausted ??= []).Add(OperationalEvent.AttemptExhausted(entry.Task.ApplicationId, entry.Task.MessageId, entry.Task.EventType,
                    entry.Task.EndpointId, new AttemptSummary(entry.AttemptId!, entry.At, last.HttpStatus, ErrorOf(last))));
            }
        }

        await using var connection = await _dataSource.OpenConnectionAsync();
        // One batch is one implicit transaction: attempts and delivery state commit together or not at all. A batch that
        // committed while its acknowledgement was lost (PostgreSQL killed at that moment) is retried: its attempts are
        // already there (same ids, so nothing is inserted twice) and the update finds them recorded.
        await using var commands = new NpgsqlBatch(connection);
        if (recorded.Count > 0)
        {
            var insert = new NpgsqlBatchCommand("""
                INSERT INTO delivery_attempts
                    (id, application_id, message_id, endpoint_id, status, http_status, latency_ms, response_body, error, attempted_at, next_attempt_at)
                SELECT u.* FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::int[], $7::int[], $8::text[], $9::text[], $10::timestamptz[], $11::timestamptz[])
                    AS u(id, application_id, message_id, endpoint_id, status, http_status, latency_ms, response_body, error, attempted_at, next_attempt_at)
                WHERE EXISTS (SELECT 1 FROM deliveries d WHERE d.message_id = u.message_id AND d.endpoint_id = u.endpoint_id)
                ON CONFLICT (id) DO NOTHING
                """);
            insert.Parameters.Add(new() { Value = recorded.Select(e => e.AttemptId!).ToArray() });
            insert.Parameters.Add(new() { Value = recorded.Select(e => e.Task.ApplicationId).ToArray() });
            insert.Parameters.Add(new() { Value = recorded.Select(e => e.Task.MessageId).ToArray() });
            insert.Parameters.Add(new() { Value = recorded.Select(e => e.Task.EndpointId).ToArray() });
            insert.Parameters.Add(new() { Value = recorded.Select(e => AttemptStatus.Of(e.Attempt!.Succeeded)).ToArray() });
            insert.Parameters.Add(new() { Value = recorded.Select(e => e.Attempt!.HttpStatus).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Integer });
            insert.Parameters.Add(new() { Value = recorded.Select(e => (int)e.Attempt!.Latency.TotalMilliseconds).ToArray() });
            insert.Parameters.Add(new() { Value = recorded.Select(e => e.Attempt!.ResponseBody).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
            insert.Parameters.Add(new() { Value = recorded.Select(e => e.Attempt!.Error).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
            insert.Parameters.Add(new() { Value = recorded.Select(e => e.At).ToArray() });
            insert.Parameters.Add(new() { Value = recorded.Select(e => e.NextAttemptAt).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.TimestampTz });
            commands.BatchCommands.Add(insert);
        }

        // Only a pending delivery moves: a late duplicate task cannot undo a success, a dead letter or a pause. An entry
        // without an attempt moves only the attempt it was for, and only if no other Processor holds a live claim on it.
        var update = new NpgsqlBatchCommand($"""
            UPDATE deliveries d
            SET status = u.status,
                attempts = GREATEST(d.attempts, u.attempts),
                next_attempt_at = u.next_attempt_at,
                last_error = CASE WHEN u.attempted THEN u.error ELSE d.last_error END,
                updated_at = u.at,
                claimed_attempt = CASE WHEN u.claimed THEN GREATEST(d.attempts, u.attempts) ELSE d.claimed_attempt END
            FROM unnest($1::text[], $2::text[], $3::text[], $4::int[], $5::timestamptz[], $6::text[], $7::bool[], $8::timestamptz[], $9::bool[])
                AS u(message_id, endpoint_id, status, attempts, next_attempt_at, error, attempted, at, claimed)
            WHERE d.message_id = u.message_id AND d.endpoint_id = u.endpoint_id AND d.status = '{DeliveryStatus.Pending}'
              AND (u.attempted OR (d.attempts = u.attempts AND (u.claimed OR d.claimed_attempt <= d.attempts OR d.claimed_at < $10)))
            """);
        update.Parameters.Add(new() { Value = messageIds });
        update.Parameters.Add(new() { Value = endpointIds });
        update.Parameters.Add(new() { Value = statuses });
        update.Parameters.Add(new() { Value = attempts });
        update.Parameters.Add(new() { Value = next, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.TimestampTz });
        update.Parameters.Add(new() { Value = errors, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
        update.Parameters.Add(new() { Value = attempted });
        update.Parameters.Add(new() { Value = at });
        update.Parameters.Add(new() { Value = claimed });
        update.Parameters.Add(new() { Value = DatabaseTime.Now(_time) - _claims.Timeout });
        commands.BatchCommands.Add(update);
        // message.attempt.exhausted commits with the dead letter it reports; its id is the last attempt's, so a batch
        // retried after a lost acknowledgement stores nothing twice. The relay publishes it.
        if (exhausted is not null) commands.BatchCommands.Add(OperationalEvents.InsertCommand(exhausted));
        await commands.ExecuteNonQueryAsync();
        return [.. batch.Select(_ => true)];
    }

    /// <summary>What the attempt's row and its delivery's last_error say went wrong (null: it succeeded).</summary>
    internal static string? ErrorOf(Attempt? attempt) => attempt switch
    {
        null or { Succeeded: true } => null,
        { Error: { } error } => error,
        { HttpStatus: { } status } => $"HTTP {status}",
        _ => "failed",
    };

    /// <summary>Commits what is queued, then stops.</summary>
    public ValueTask DisposeAsync() => _commits.DisposeAsync();
}
