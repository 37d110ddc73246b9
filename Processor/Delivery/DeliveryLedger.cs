using System.Threading.Channels;
using Herald.Deliveries;
using Npgsql;
using NpgsqlTypes;

namespace Herald.Processor.Delivery;

/// <summary>What one task did to its delivery: an attempt (with the decision it led to), or a deferral without one.</summary>
public sealed record LedgerEntry(
    DeliveryTask Task,
    string Status,
    DateTimeOffset? NextAttemptAt,
    DateTimeOffset At,
    Attempt? Attempt = null,
    string? AttemptId = null)
{
    /// <summary>Attempts the delivery has used after this entry.</summary>
    public int Attempts => Attempt is null ? Task.Attempt - 1 : Task.Attempt;
}

/// <summary>
/// Records attempts and moves deliveries on, in PostgreSQL, before the Kafka offset moves past their task. Concurrent
/// deliveries are committed together (group commit): one transaction with one INSERT and one UPDATE for all that
/// queued, so recording costs a round trip per batch, not per attempt.
/// </summary>
public sealed class DeliveryLedger : IAsyncDisposable
{
    private const int MaxBatchSize = 500;
    private readonly Channel<Pending> _queue = Channel.CreateUnbounded<Pending>();
    private readonly NpgsqlDataSource _dataSource;
    private readonly ILogger<DeliveryLedger> _logger;
    private readonly Task[] _writers;

    public DeliveryLedger(NpgsqlDataSource dataSource, ILogger<DeliveryLedger> logger)
    {
        _dataSource = dataSource;
        _logger = logger;
        // A few writers so one batch's fsync overlaps the next batch's statements.
        _writers = [.. Enumerable.Range(0, 4).Select(_ => Task.Run(WriteAsync))];
    }

    /// <summary>Completes once the entry is committed (or there is nothing left to record it against).</summary>
    public Task RecordAsync(LedgerEntry entry)
    {
        var pending = new Pending(entry);
        if (!_queue.Writer.TryWrite(pending)) throw new InvalidOperationException("The delivery ledger has stopped.");
        return pending.Done.Task;
    }

    private async Task WriteAsync()
    {
        var batch = new List<Pending>(MaxBatchSize);
        while (await _queue.Reader.WaitToReadAsync())
        {
            batch.Clear();
            while (batch.Count < MaxBatchSize && _queue.Reader.TryRead(out var pending)) batch.Add(pending);
            if (batch.Count == 0) continue;
            // Until it is recorded the task's offset cannot move, so keep trying: PostgreSQL may be restarting.
            for (var retry = 0; ; retry++)
            {
                try
                {
                    await CommitAsync(batch);
                    break;
                }
                catch (PostgresException exception) when (exception.SqlState == PostgresErrorCodes.ForeignKeyViolation)
                {
                    // A message or endpoint was deleted meanwhile: record the others one by one.
                    foreach (var pending in batch) await CommitAloneAsync(pending);
                    break;
                }
                catch (Exception exception)
                {
                    _logger.LogError(exception, "Could not record {Count} delivery outcomes; retrying", batch.Count);
                    await Task.Delay(TimeSpan.FromMilliseconds(Math.Min(5000, 100 * (1 << Math.Min(retry, 6)))));
                }
            }
            foreach (var pending in batch) pending.Done.TrySetResult();
        }
    }

    private async Task CommitAloneAsync(Pending pending)
    {
        try
        {
            await CommitAsync([pending]);
        }
        catch (PostgresException exception) when (exception.SqlState == PostgresErrorCodes.ForeignKeyViolation)
        {
            // Deleted: there is nothing left to record against.
        }
    }

    private async Task CommitAsync(IReadOnlyList<Pending> batch)
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
        var recorded = batch.Where(p => p.Entry.Attempt is not null).Select(p => p.Entry).ToList();
        for (var i = 0; i < count; i++)
        {
            var entry = batch[i].Entry;
            (messageIds[i], endpointIds[i], statuses[i], attempts[i], next[i], errors[i], attempted[i], at[i]) =
                (entry.Task.MessageId, entry.Task.EndpointId, entry.Status, entry.Attempts, entry.NextAttemptAt,
                 ErrorOf(entry.Attempt), entry.Attempt is not null, entry.At);
        }

        await using var connection = await _dataSource.OpenConnectionAsync();
        // One batch is one implicit transaction: attempts and delivery state commit together or not at all.
        await using var commands = new NpgsqlBatch(connection);
        if (recorded.Count > 0)
        {
            var insert = new NpgsqlBatchCommand("""
                INSERT INTO delivery_attempts
                    (id, application_id, message_id, endpoint_id, status, http_status, latency_ms, response_body, error, attempted_at, next_attempt_at)
                SELECT u.* FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::int[], $7::int[], $8::text[], $9::text[], $10::timestamptz[], $11::timestamptz[])
                    AS u(id, application_id, message_id, endpoint_id, status, http_status, latency_ms, response_body, error, attempted_at, next_attempt_at)
                WHERE EXISTS (SELECT 1 FROM deliveries d WHERE d.message_id = u.message_id AND d.endpoint_id = u.endpoint_id)
                """);
            insert.Parameters.Add(new() { Value = recorded.Select(e => e.AttemptId!).ToArray() });
            insert.Parameters.Add(new() { Value = recorded.Select(e => e.Task.ApplicationId).ToArray() });
            insert.Parameters.Add(new() { Value = recorded.Select(e => e.Task.MessageId).ToArray() });
            insert.Parameters.Add(new() { Value = recorded.Select(e => e.Task.EndpointId).ToArray() });
            insert.Parameters.Add(new() { Value = recorded.Select(e => e.Attempt!.Succeeded ? "succeeded" : "failed").ToArray() });
            insert.Parameters.Add(new() { Value = recorded.Select(e => e.Attempt!.HttpStatus).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Integer });
            insert.Parameters.Add(new() { Value = recorded.Select(e => (int)e.Attempt!.Latency.TotalMilliseconds).ToArray() });
            insert.Parameters.Add(new() { Value = recorded.Select(e => e.Attempt!.ResponseBody).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
            insert.Parameters.Add(new() { Value = recorded.Select(e => e.Attempt!.Error).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
            insert.Parameters.Add(new() { Value = recorded.Select(e => e.At).ToArray() });
            insert.Parameters.Add(new() { Value = recorded.Select(e => e.NextAttemptAt).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.TimestampTz });
            commands.BatchCommands.Add(insert);
        }

        // Only a pending delivery moves: a late duplicate task cannot undo a success, a dead letter or a pause.
        var update = new NpgsqlBatchCommand("""
            UPDATE deliveries d
            SET status = u.status,
                attempts = GREATEST(d.attempts, u.attempts),
                next_attempt_at = u.next_attempt_at,
                last_error = CASE WHEN u.attempted THEN u.error ELSE d.last_error END,
                updated_at = u.at
            FROM unnest($1::text[], $2::text[], $3::text[], $4::int[], $5::timestamptz[], $6::text[], $7::bool[], $8::timestamptz[])
                AS u(message_id, endpoint_id, status, attempts, next_attempt_at, error, attempted, at)
            WHERE d.message_id = u.message_id AND d.endpoint_id = u.endpoint_id AND d.status = 'pending'
            """);
        update.Parameters.Add(new() { Value = messageIds });
        update.Parameters.Add(new() { Value = endpointIds });
        update.Parameters.Add(new() { Value = statuses });
        update.Parameters.Add(new() { Value = attempts });
        update.Parameters.Add(new() { Value = next, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.TimestampTz });
        update.Parameters.Add(new() { Value = errors, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
        update.Parameters.Add(new() { Value = attempted });
        update.Parameters.Add(new() { Value = at });
        commands.BatchCommands.Add(update);
        await commands.ExecuteNonQueryAsync();
    }

    private static string? ErrorOf(Attempt? attempt) => attempt switch
    {
        null or { Succeeded: true } => null,
        { Error: { } error } => error,
        { HttpStatus: { } status } => $"HTTP {status}",
        _ => "failed",
    };

    /// <summary>Commits what is queued, then stops.</summary>
    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        await Task.WhenAll(_writers);
    }

    private sealed class Pending(LedgerEntry entry)
    {
        public LedgerEntry Entry { get; } = entry;
        public TaskCompletionSource Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
