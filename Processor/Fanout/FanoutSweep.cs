using Herald.Database;
using Herald.Messages;
using Herald.Processor.Scheduling;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Herald.Processor.Fanout;

/// <summary>
/// Redoes the fan-out of messages that were published but never fanned out — their <c>herald.messages</c> record lost
/// by a broker, or skipped by a consumer group whose offsets were reset. The sweep walks messages in id (time) order
/// from a cursor kept in PostgreSQL, one replica at a time, stopping at the first message not yet published (the relay
/// publishes it, and the fan-out consumer takes it from there) and at <see cref="FanoutOptions.SweepGrace"/> ago.
/// Messages with no delivery yet go through the same <see cref="DeliveryFanout"/> as the consumer's, which makes the
/// sweep safe however the two race: a delivery is created once. Deliveries lost between the two topics need no sweep:
/// their lease in PostgreSQL brings them back (<see cref="Scheduling.DueDeliveries"/>).
/// </summary>
internal sealed class FanoutSweep(
    NpgsqlDataSource dataSource,
    DeliveryFanout fanout,
    IOptions<FanoutOptions> options,
    TimeProvider time,
    ILogger<FanoutSweep> logger) : BackgroundService
{
    private const string Cursor = "fanout-sweep";

    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        DatabasePasses.RunAsync(options.Value.SweepInterval, options.Value.SweepBatchSize, SweepOnceAsync,
            "sweep for messages never fanned out", time, logger, stoppingToken);

    /// <summary>One step of the cursor: returns how many messages it looked at (the batch size when more are waiting).</summary>
    public async Task<int> SweepOnceAsync(CancellationToken cancellationToken)
    {
        var now = DatabaseTime.Now(time);
        // The smallest id of the first millisecond past the grace: everything below it is old enough to sweep.
        var upTo = SortableId.Lowest("msg", now - options.Value.SweepGrace);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);

        string position;
        await using (var start = new NpgsqlCommand(
            "INSERT INTO processor_cursors (name, position, updated_at) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING", connection, transaction))
        {
            // A new database starts the sweep from now: there is no history to sweep.
            start.Parameters.Add(new() { Value = Cursor });
            start.Parameters.Add(new() { Value = upTo });
            start.Parameters.Add(new() { Value = now });
            await start.ExecuteNonQueryAsync(cancellationToken);
        }
        await using (var cursor = new NpgsqlCommand("SELECT position FROM processor_cursors WHERE name = $1 FOR UPDATE SKIP LOCKED", connection, transaction))
        {
            cursor.Parameters.Add(new() { Value = Cursor });
            if (await cursor.ExecuteScalarAsync(cancellationToken) is not string held) return 0; // another replica is sweeping
            position = held;
        }

        var looked = 0;
        var next = position;
        var unfanned = new List<MessagePublished>();
        var traces = new Dictionary<string, string?>(StringComparer.Ordinal);
        await using (var scan = new NpgsqlCommand("""
            SELECT m.id, NOT EXISTS (SELECT 1 FROM message_outbox o WHERE o.message_id = m.id),
                   NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.message_id = m.id),
                   m.application_id, m.event_type, m.payload::text, m.created_at, m.trace_parent
            FROM messages m
            WHERE m.id > $1 AND m.id < $2
            ORDER BY m.id
            LIMIT $3
            """, connection, transaction))
        {
            scan.Parameters.Add(new() { Value = position });
            scan.Parameters.Add(new() { Value = upTo });
            scan.Parameters.Add(new() { Value = options.Value.SweepBatchSize });
            await using var reader = await scan.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                looked++;
                // Not published yet: the relay will publish it and the consumer fan it out. The cursor waits here.
                if (!reader.GetBoolean(1)) break;
                next = reader.GetString(0);
                if (!reader.GetBoolean(2) || reader.IsDBNull(5)) continue; // fanned out (or its payload is past retention)
                unfanned.Add(new MessagePublished(next, reader.GetString(3), reader.GetString(4), reader.GetString(5),
                    reader.GetFieldValue<DateTimeOffset>(6)));
                traces[next] = reader.IsDBNull(7) ? null : reader.GetString(7);
            }
        }

        if (unfanned.Count > 0)
        {
            var tasks = await fanout.FanOutAsync(unfanned, traces);
            if (tasks.Count > 0)
                logger.LogWarning("Swept {Messages} published messages that were never fanned out: {Deliveries} deliveries created", unfanned.Count, tasks.Count);
        }

        if (next != position)
        {
            await using var advance = new NpgsqlCommand("UPDATE processor_cursors SET position = $2, updated_at = $3 WHERE name = $1", connection, transaction);
            advance.Parameters.Add(new() { Value = Cursor });
            advance.Parameters.Add(new() { Value = next });
            advance.Parameters.Add(new() { Value = now });
            await advance.ExecuteNonQueryAsync(cancellationToken);
        }
        await transaction.CommitAsync(cancellationToken);
        return next == position ? 0 : looked;
    }
}
