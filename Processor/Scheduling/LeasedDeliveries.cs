using Herald.Deliveries;
using Npgsql;

namespace Herald.Processor.Scheduling;

/// <summary>
/// Deliveries a scheduler has just leased in PostgreSQL (<see cref="DueDeliveries"/>, the FIFO lines' new heads) on
/// their way to Kafka: each read into its next attempt's task, or, when its payload is gone (retention, expunged),
/// dead-lettered instead, since there is nothing left to send.
/// </summary>
public static class LeasedDeliveries
{
    /// <summary>What a query selects for <see cref="ReadAsync"/>, from leased rows <c>l</c> (message_id, endpoint_id,
    /// application_id, attempts, ordered) joined to their messages <c>m</c>.</summary>
    public const string Columns = "l.message_id, l.endpoint_id, l.application_id, l.attempts, m.event_type, m.payload::text, m.created_at, m.trace_parent, l.ordered";

    /// <summary>Adds a task per row to <paramref name="tasks"/>; returns the rows whose payload is gone.</summary>
    public static async Task<IReadOnlyList<(string MessageId, string EndpointId)>> ReadAsync(NpgsqlDataReader reader, DateTimeOffset now,
        List<DeliveryTask> tasks, CancellationToken cancellationToken)
    {
        var expired = new List<(string, string)>();
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
        return expired;
    }

    public static NpgsqlBatchCommand DeadLetter(IReadOnlyList<(string MessageId, string EndpointId)> expired, DateTimeOffset now)
    {
        var update = new NpgsqlBatchCommand($"""
            UPDATE deliveries d SET status = '{DeliveryStatus.Failed}', next_attempt_at = NULL, last_error = 'payload expired (retention)', updated_at = $3
            FROM unnest($1::text[], $2::text[]) AS u(message_id, endpoint_id)
            WHERE d.message_id = u.message_id AND d.endpoint_id = u.endpoint_id
            """);
        update.Parameters.Add(new() { Value = expired.Select(e => e.MessageId).ToArray() });
        update.Parameters.Add(new() { Value = expired.Select(e => e.EndpointId).ToArray() });
        update.Parameters.Add(new() { Value = now });
        return update;
    }
}
