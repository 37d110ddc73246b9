using System.Text.Json;
using Confluent.Kafka;
using Herald.Database;
using Herald.Deliveries;
using Herald.Kafka;
using Herald.Messages;
using Herald.Processor.Delivery;
using Herald.ServiceDefaults.Kafka;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Herald.Processor.Fanout;

/// <summary>
/// One member of the <c>herald-fanout</c> consumer group: turns each committed message into one delivery per enabled
/// endpoint whose filter admits its event type. A batch of records becomes one INSERT of delivery rows (leased, so a
/// lost task comes back by itself) and one task per row on <c>herald.deliveries</c>; only then are the records'
/// offsets stored.
/// </summary>
internal sealed class MessageFanout(
    KafkaConnection kafka,
    NpgsqlDataSource dataSource,
    TaskQueue queue,
    IOptions<DeliveryOptions> options,
    TimeProvider time,
    ILogger<MessageFanout> logger) : BackgroundService
{
    public const string GroupId = "herald-fanout";
    private const int MaxBatchSize = 500;

    // Consume() blocks its thread; give the loop one of its own rather than a pool thread.
    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        Task.Factory.StartNew(() => ConsumeAsync(stoppingToken), stoppingToken, TaskCreationOptions.LongRunning, TaskScheduler.Default).Unwrap();

    private async Task ConsumeAsync(CancellationToken stoppingToken)
    {
        using var consumer = new ConsumerBuilder<string, byte[]>(kafka.ConsumerConfig(GroupId))
            .SetPartitionsAssignedHandler((_, partitions) =>
                logger.LogInformation("Assigned {Topic} partitions {Partitions}", Topics.Messages.Name, string.Join(",", partitions.Select(p => p.Partition.Value))))
            .SetPartitionsRevokedHandler((_, partitions) =>
                logger.LogInformation("Revoked {Topic} partitions {Partitions}", Topics.Messages.Name, string.Join(",", partitions.Select(p => p.Partition.Value))))
            .SetErrorHandler((_, error) => logger.LogWarning("Kafka consumer: {Reason}", error.Reason))
            .Build();

        consumer.Subscribe(Topics.Messages.Name);
        logger.LogInformation("Consuming {Topic} as group {GroupId}", Topics.Messages.Name, GroupId);
        var batch = new List<ConsumeResult<string, byte[]>>(MaxBatchSize);
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                batch.Clear();
                try
                {
                    // Wait for one record, then take whatever else has already arrived.
                    var first = consumer.Consume(stoppingToken);
                    batch.Add(first);
                    while (batch.Count < MaxBatchSize && consumer.Consume(TimeSpan.Zero) is { } next) batch.Add(next);
                }
                catch (OperationCanceledException)
                {
                    break;
                }

                // The batch is finished even while shutting down: it is short, and finishing spares a redo.
                if (!await FanOutUntilRecordedAsync(batch, stoppingToken)) break;
                foreach (var record in batch) consumer.StoreOffset(record);
            }
        }
        finally
        {
            // Commits the stored offsets and leaves the group, so partitions move to other replicas at once.
            consumer.Close();
            logger.LogInformation("Consumer closed; stored offsets committed");
        }
    }

    /// <summary>Returns false only when shutdown interrupted a batch not yet recorded (it will be redelivered).</summary>
    private async Task<bool> FanOutUntilRecordedAsync(IReadOnlyList<ConsumeResult<string, byte[]>> batch, CancellationToken stoppingToken)
    {
        var messages = new List<MessagePublished>(batch.Count);
        foreach (var record in batch)
        {
            try
            {
                messages.Add(MessagePublished.FromUtf8Bytes(record.Message.Value));
            }
            catch (JsonException exception)
            {
                logger.LogError("Skipping unreadable record at {TopicPartitionOffset}: {Reason}", record.TopicPartitionOffset, exception.Message);
            }
        }

        while (true)
        {
            try
            {
                var tasks = await InsertDeliveriesAsync(messages);
                await queue.EnqueueAsync(tasks);
                return true;
            }
            catch (Exception exception) when (exception is NpgsqlException or TimeoutException)
            {
                logger.LogError(exception, "Could not fan out {Count} messages; retrying", messages.Count);
                try
                {
                    await Task.Delay(TimeSpan.FromSeconds(1), stoppingToken);
                }
                catch (OperationCanceledException)
                {
                    return false;
                }
            }
        }
    }

    /// <summary>Creates the deliveries of the messages; returns a first-attempt task for each row created now (rows
    /// that already existed come from a redelivered record and are covered by their lease).</summary>
    private async Task<IReadOnlyList<DeliveryTask>> InsertDeliveriesAsync(IReadOnlyList<MessagePublished> messages)
    {
        if (messages.Count == 0) return [];
        var now = DatabaseTime.Now(time);
        await using var insert = dataSource.CreateCommand("""
            INSERT INTO deliveries (message_id, endpoint_id, application_id, status, attempts, next_attempt_at, created_at, updated_at)
            SELECT m.id, e.id, e.application_id, 'pending', 0, $4, $5, $5
            FROM unnest($1::text[], $2::text[], $3::text[]) AS m(id, application_id, event_type)
            JOIN messages stored ON stored.id = m.id
            JOIN endpoints e ON e.application_id = m.application_id AND NOT e.disabled
                AND (e.event_types IS NULL OR m.event_type = ANY (e.event_types))
            ON CONFLICT DO NOTHING
            RETURNING message_id, endpoint_id
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
            var message = byId[reader.GetString(0)];
            tasks.Add(new DeliveryTask(message.MessageId, reader.GetString(1), message.ApplicationId, message.EventType,
                message.Payload, message.CreatedAt, Attempt: 1, EnqueuedAt: now));
        }
        return tasks;
    }
}
