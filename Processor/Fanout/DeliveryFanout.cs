using Herald.Database;
using Herald.Deliveries;
using Herald.Messages;
using Herald.Processor.Delivery;
using Herald.Processor.Fifo;
using Herald.Processor.Telemetry;
using Microsoft.Extensions.Options;

namespace Herald.Processor.Fanout;

/// <summary>
/// Turns messages into deliveries: one row per endpoint whose filter admits the message's event type, created in one
/// INSERT per batch (leased, so a lost task comes back by itself), and a first-attempt task on
/// <c>herald.deliveries</c> for each pending one. Idempotent: a message fanned out twice (a redelivered record, the
/// sweep) creates nothing the second time — but its deliveries not attempted yet are enqueued again, since the replica
/// that created them may have died before their tasks reached Kafka (a copy of a task that did is harmless: the attempt
/// is claimed once, see <see cref="DeliveryClaims"/>).
/// </summary>
public sealed class DeliveryFanout(
    Npgsql.NpgsqlDataSource dataSource,
    DeliveryTaskPublisher publisher,
    FifoLines fifo,
    IOptions<DeliveryOptions> options,
    DeliveryTelemetry telemetry,
    TimeProvider time)
{
    /// <param name="traces">The traceparent each message's deliveries continue, by message id.</param>
    /// <returns>The tasks enqueued: one per delivery created now, and one per delivery not yet attempted of a message
    /// fanned out before.</returns>
    public async Task<IReadOnlyList<DeliveryTask>> FanOutAsync(IReadOnlyList<MessagePublished> messages, IReadOnlyDictionary<string, string?> traces)
    {
        var (created, enqueue, lines) = await InsertDeliveriesAsync(messages);
        var tasks = enqueue.Select(task => task with { TraceParent = traces.GetValueOrDefault(task.MessageId) }).ToList();
        await publisher.PublishAsync(tasks);
        telemetry.FannedOut(messages.Count, created);
        // Start the FIFO lines these messages joined that have no head yet: those queued here, and those the API queued
        // them in as it committed them (the record says so; most messages join none, and cost nothing here).
        var queuedBy = messages.Where(m => m.Queued).Select(m => m.ApplicationId).ToHashSet(StringComparer.Ordinal);
        if (queuedBy.Count > 0) lines.UnionWith(await fifo.EndpointsOfAsync(queuedBy));
        if (lines.Count > 0) await fifo.AdvanceAsync(lines);
        return tasks;
    }

    /// <summary>Creates the deliveries of the messages; returns a first-attempt task for each pending row created now,
    /// and for each pending row not yet attempted of a message that had been fanned out before. A disabled endpoint's
    /// delivery is created paused: re-enabling the endpoint resumes it. A FIFO endpoint's is queued at the end of its
    /// line (the API queued it already, in accept order, unless the endpoint became FIFO meanwhile). A message for one
    /// endpoint (a test event) is created with its delivery and gets no other.</summary>
    private async Task<(int Created, IReadOnlyList<DeliveryTask> Tasks, HashSet<string> Lines)> InsertDeliveriesAsync(IReadOnlyList<MessagePublished> messages)
    {
        var lines = new HashSet<string>(StringComparer.Ordinal);
        if (messages.Count == 0) return (0, [], lines);
        var now = DatabaseTime.Now(time);
        var byId = new Dictionary<string, MessagePublished>(StringComparer.Ordinal);
        foreach (var message in messages) byId.TryAdd(message.MessageId, message);
        var tasks = new List<DeliveryTask>();
        var created = 0;
        var fannedOut = new HashSet<string>(StringComparer.Ordinal);
        await using var insert = dataSource.CreateCommand($"""
            INSERT INTO deliveries (message_id, endpoint_id, application_id, status, attempts, next_attempt_at, queue_position, created_at, updated_at)
            SELECT m.id, e.id, e.application_id,
                   CASE WHEN e.ordering = '{EndpointOrdering.Fifo}' THEN '{DeliveryStatus.Queued}'
                        WHEN e.disabled THEN '{DeliveryStatus.Paused}' ELSE '{DeliveryStatus.Pending}' END, 0,
                   CASE WHEN e.disabled OR e.ordering = '{EndpointOrdering.Fifo}' THEN NULL ELSE $2::timestamptz END,
                   CASE WHEN e.ordering = '{EndpointOrdering.Fifo}' THEN nextval('delivery_queue_positions') END, $3, $3
            FROM unnest($1::text[]) AS u(id)
            -- An expunged message (its payload erased on request) gets no deliveries: this record's copy must not be sent.
            JOIN messages m ON m.id = u.id AND m.endpoint_id IS NULL AND m.expunged_at IS NULL
            JOIN endpoints e ON e.application_id = m.application_id AND {Subscriptions.Match}
            ON CONFLICT DO NOTHING
            RETURNING message_id, endpoint_id, status
            """);
        insert.Parameters.Add(new() { Value = messages.Select(m => m.MessageId).ToArray() });
        insert.Parameters.Add(new() { Value = now + options.Value.Lease });
        insert.Parameters.Add(new() { Value = now });

        await using (var reader = await insert.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
            {
                created++;
                fannedOut.Add(reader.GetString(0));
                if (reader.GetString(2) == DeliveryStatus.Pending) tasks.Add(FirstAttempt(reader.GetString(0), reader.GetString(1)));
                else if (reader.GetString(2) == DeliveryStatus.Queued) lines.Add(reader.GetString(1));
            }
        }

        // A message's rows are created together, so one that got none now was fanned out before (or has no endpoint).
        var again = byId.Keys.Where(id => !fannedOut.Contains(id)).ToArray();
        if (again.Length > 0)
        {
            await using var unattempted = dataSource.CreateCommand(
                $"SELECT message_id, endpoint_id FROM deliveries WHERE message_id = ANY($1) AND status = '{DeliveryStatus.Pending}' AND attempts = 0 AND queue_position IS NULL");
            unattempted.Parameters.Add(new() { Value = again });
            await using var reader = await unattempted.ExecuteReaderAsync();
            while (await reader.ReadAsync()) tasks.Add(FirstAttempt(reader.GetString(0), reader.GetString(1)));
        }
        return (created, tasks, lines);

        DeliveryTask FirstAttempt(string messageId, string endpointId)
        {
            var message = byId[messageId];
            return new DeliveryTask(message.MessageId, endpointId, message.ApplicationId, message.EventType,
                message.Payload, message.CreatedAt, Attempt: 1, EnqueuedAt: now);
        }
    }
}
