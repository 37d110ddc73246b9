using System.Diagnostics;
using System.Text.Json;
using Confluent.Kafka;
using Herald.Kafka;
using Herald.Messages;
using Herald.Processor.Delivery;
using Herald.Processor.Telemetry;
using Herald.Secrets;
using Herald.ServiceDefaults.Kafka;
using Herald.ServiceDefaults.Telemetry;
using Npgsql;

namespace Herald.Processor.Fanout;

/// <summary>
/// One member of the <c>herald-fanout</c> consumer group: hands each batch of records to <see cref="DeliveryFanout"/>
/// (delivery rows and their tasks) and stores the records' offsets only once that is durable.
/// </summary>
internal sealed class MessageFanout(
    KafkaConnection kafka,
    DeliveryFanout fanout,
    ConsumerLag lag,
    ConsumerGroups groups,
    RecordAuthenticator records,
    DeliveryTelemetry telemetry,
    ILogger<MessageFanout> logger) : BackgroundService
{
    public const string GroupId = ConsumerGroupNames.Fanout;
    private const int MaxBatchSize = 500;

    // Consume() blocks its thread; the whole loop stays on a thread of its own. (Were it async, every Consume() after
    // the first await would block a thread-pool thread — on two cores, half the pool — and starve the delivery work.)
    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        Task.Factory.StartNew(() => Consume(stoppingToken), stoppingToken, TaskCreationOptions.LongRunning, TaskScheduler.Default);

    private void Consume(CancellationToken stoppingToken)
    {
        using var consumer = lag.Observe(new ConsumerBuilder<string, byte[]>(kafka.ConsumerConfig(GroupId)), GroupId)
            .SetPartitionsAssignedHandler((_, partitions) =>
            {
                groups.Joined(GroupId);
                logger.LogInformation("Assigned {Topic} partitions {Partitions}", Topics.Messages.Name, string.Join(",", partitions.Select(p => p.Partition.Value)));
            })
            .SetPartitionsRevokedHandler((_, partitions) =>
                logger.LogInformation("Revoked {Topic} partitions {Partitions}", Topics.Messages.Name, string.Join(",", partitions.Select(p => p.Partition.Value))))
            .SetPartitionsLostHandler((_, partitions) =>
            {
                groups.Left(GroupId);
                logger.LogWarning("Lost {Topic} partitions {Partitions}; rejoining", Topics.Messages.Name, string.Join(",", partitions.Select(p => p.Partition.Value)));
            })
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
                if (!FanOutUntilRecordedAsync(batch, stoppingToken).GetAwaiter().GetResult()) break;
                foreach (var record in batch) consumer.StoreOffset(record);
            }
        }
        finally
        {
            // Commits the stored offsets and leaves the group, so partitions move to other replicas at once.
            groups.Left(GroupId);
            consumer.Close();
            lag.Forget(GroupId);
            logger.LogInformation("Consumer closed; stored offsets committed");
        }
    }

    /// <summary>Returns false only when shutdown interrupted a batch not yet recorded (it will be redelivered).</summary>
    private async Task<bool> FanOutUntilRecordedAsync(IReadOnlyList<ConsumeResult<string, byte[]>> batch, CancellationToken stoppingToken)
    {
        var messages = new List<MessagePublished>(batch.Count);
        var spans = new List<Activity?>(batch.Count); // spans[i] is messages[i]'s
        // Each message's deliveries continue its trace (fan-out span, or the producer's context when not recorded).
        var traces = new Dictionary<string, string?>(StringComparer.Ordinal);
        foreach (var record in batch)
        {
            if (!records.IsAuthentic(record.Message.Headers, Topics.Messages.Name, record.Message.Key, record.Message.Value))
            {
                // Not written by Herald: its payload must not be signed. A genuine message is in PostgreSQL, where the sweep finds it.
                telemetry.Rejected(Topics.Messages.Name);
                logger.LogError("Skipping a record without Herald's authentication at {TopicPartitionOffset}", record.TopicPartitionOffset);
                continue;
            }
            try
            {
                var message = MessagePublished.FromUtf8Bytes(record.Message.Value);
                messages.Add(message);
                var parent = TracePropagation.Extract(record.Message.Headers);
                var span = StartFanoutActivity(message, parent);
                spans.Add(span);
                traces[message.MessageId] = TracePropagation.Format(span?.Context ?? parent);
            }
            catch (JsonException exception)
            {
                logger.LogError("Skipping unreadable record at {TopicPartitionOffset}: {Reason}", record.TopicPartitionOffset, exception.Message);
            }
        }

        try
        {
            return await FanOutAsync(messages, spans, traces, stoppingToken);
        }
        finally
        {
            foreach (var span in spans) span.StopDetached();
        }
    }

    private async Task<bool> FanOutAsync(IReadOnlyList<MessagePublished> messages, IReadOnlyList<Activity?> spans,
        IReadOnlyDictionary<string, string?> traces, CancellationToken stoppingToken)
    {
        while (true)
        {
            try
            {
                var tasks = await fanout.FanOutAsync(messages, traces);
                var created = tasks.CountBy(task => task.MessageId).ToDictionary(StringComparer.Ordinal);
                for (var i = 0; i < spans.Count; i++) spans[i]?.SetTag("herald.fanout.deliveries", created.GetValueOrDefault(messages[i].MessageId));
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

    /// <summary>One message's fan-out, as a consumer span beside the batch's (so one per message's trace).</summary>
    private static Activity? StartFanoutActivity(MessagePublished message, ActivityContext parent)
    {
        var activity = DeliveryTelemetry.Tracing.StartDetached($"{Topics.Messages.Name} process", ActivityKind.Consumer, parent);
        if (activity is { IsAllDataRequested: true })
        {
            activity.SetTag("messaging.system", "kafka");
            activity.SetTag("messaging.operation.type", "process");
            activity.SetTag("messaging.destination.name", Topics.Messages.Name);
            activity.SetTag("messaging.consumer.group.name", GroupId);
            activity.SetTag("herald.message.id", message.MessageId);
            activity.SetTag("herald.application.id", message.ApplicationId);
        }
        return activity;
    }
}
