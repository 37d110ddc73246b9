using Herald.Database;
using Herald.Deliveries;
using Herald.Messages;
using Herald.Processor.Delivery;
using Herald.Processor.Telemetry;
using Microsoft.Extensions.Options;

namespace Herald.Processor.Fanout;

/// <summary>
/// Turns messages into deliveries: one row per endpoint whose filter admits the message's event type, created in one
/// INSERT per batch (leased, so a lost task comes back by itself), and a first-attempt task on
/// <c>herald.deliveries</c> for each pending one. Idempotent: a message fanned out twice (a redelivered record, the
/// sweep) creates nothing the second time.
/// </summary>
public sealed class DeliveryFanout(
    Npgsql.NpgsqlDataSource dataSource,
    TaskQueue queue,
    IOptions<DeliveryOptions> options,
    DeliveryTelemetry telemetry,
    TimeProvider time)
{
    /// <param name="traces">The traceparent each message's deliveries continue, by message id.</param>
    /// <returns>The tasks enqueued: one per delivery created now.</returns>
    public async Task<IReadOnlyList<DeliveryTask>> FanOutAsync(IReadOnlyList<MessagePublished> messages, IReadOnlyDictionary<string, string?> traces)
    {
        var tasks = (await InsertDeliveriesAsync(messages))
            .Select(task => task with { TraceParent = traces.GetValueOrDefault(task.MessageId) }).ToList();
        await queue.EnqueueAsync(tasks);
        telemetry.FannedOut(messages.Count, tasks.Count);
        return tasks;
    }

    /// <summary>Creates the deliveries of the messages; returns a first-attempt task for each pending row created now
    /// (rows that already existed come from a redelivered record and are covered by their lease). A disabled endpoint's
    /// delivery is created paused: re-enabling the endpoint resumes it.</summary>
    private async Task<IReadOnlyList<DeliveryTask>> InsertDeliveriesAsync(IReadOnlyList<MessagePublished> messages)
    {
        if (messages.Count == 0) return [];
        var now = DatabaseTime.Now(time);
        await using var insert = dataSource.CreateCommand("""
            INSERT INTO deliveries (message_id, endpoint_id, application_id, status, attempts, next_attempt_at, created_at, updated_at)
            SELECT m.id, e.id, e.application_id,
                   CASE WHEN e.disabled THEN 'paused' ELSE 'pending' END, 0,
                   CASE WHEN e.disabled THEN NULL ELSE $4::timestamptz END, $5, $5
            FROM unnest($1::text[], $2::text[], $3::text[]) AS m(id, application_id, event_type)
            JOIN messages stored ON stored.id = m.id
            JOIN endpoints e ON e.application_id = m.application_id
                AND (e.event_types IS NULL OR m.event_type = ANY (e.event_types))
            ON CONFLICT DO NOTHING
            RETURNING message_id, endpoint_id, status
            """);
        insert.Parameters.Add(new() { Value = messages.Select(m => m.MessageId).ToArray() });
        insert.Parameters.Add(new() { Value = messages.Select(m => m.ApplicationId).ToArray() });
        insert.Parameters.Add(new() { Value = messages.Select(m => m.EventType).ToArray() });
        insert.Parameters.Add(new() { Value = now + options.Value.Lease });
        insert.Parameters.Add(new() { Value = now });

        var byId = new Dictionary<string, MessagePublished>(StringComparer.Ordinal);
        foreach (var message in messages) byId.TryAdd(message.MessageId, message);
        var tasks = new List<DeliveryTask>();
        await using var reader = await insert.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            if (reader.GetString(2) != DeliveryDecision.Pending) continue;
            var message = byId[reader.GetString(0)];
            tasks.Add(new DeliveryTask(message.MessageId, reader.GetString(1), message.ApplicationId, message.EventType,
                message.Payload, message.CreatedAt, Attempt: 1, EnqueuedAt: now));
        }
        return tasks;
    }
}
