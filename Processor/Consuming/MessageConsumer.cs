using System.Text.Json;
using Confluent.Kafka;
using Herald.Kafka;
using Herald.Messages;
using Herald.Processor.Delivery;
using Herald.ServiceDefaults.Kafka;

namespace Herald.Processor.Consuming;

/// <summary>
/// One member of the <c>herald-processor</c> consumer group. A record's offset is stored only after its delivery
/// attempt is recorded in PostgreSQL, so a crash at any point redelivers rather than loses (at least once).
/// </summary>
internal sealed class MessageConsumer(
    KafkaConnection kafka,
    EndpointDirectory endpoints,
    WebhookSender sender,
    AttemptLog attempts,
    ILogger<MessageConsumer> logger) : BackgroundService
{
    public const string GroupId = "herald-processor";

    // Consume() blocks its thread; give the loop one of its own rather than a pool thread.
    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        Task.Factory.StartNew(() => ConsumeAsync(stoppingToken), stoppingToken, TaskCreationOptions.LongRunning, TaskScheduler.Default).Unwrap();

    private async Task ConsumeAsync(CancellationToken stoppingToken)
    {
        using var consumer = new ConsumerBuilder<string, byte[]>(kafka.ConsumerConfig(GroupId))
            .SetPartitionsAssignedHandler((_, partitions) =>
                logger.LogInformation("Assigned partitions {Partitions}", string.Join(",", partitions.Select(p => p.Partition.Value))))
            .SetPartitionsRevokedHandler((_, partitions) =>
                logger.LogInformation("Revoked partitions {Partitions}", string.Join(",", partitions.Select(p => p.Partition.Value))))
            .SetErrorHandler((_, error) => logger.LogWarning("Kafka consumer: {Reason}", error.Reason))
            .Build();

        consumer.Subscribe(Topics.Messages.Name);
        logger.LogInformation("Consuming {Topic} as group {GroupId}", Topics.Messages.Name, GroupId);
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                ConsumeResult<string, byte[]> record;
                try
                {
                    record = consumer.Consume(stoppingToken);
                }
                catch (OperationCanceledException)
                {
                    break;
                }

                if (!await HandleUntilRecordedAsync(record, stoppingToken)) break;
                consumer.StoreOffset(record);
            }
        }
        finally
        {
            // Commits the stored offsets and leaves the group, so partitions move to other replicas at once.
            consumer.Close();
            logger.LogInformation("Consumer closed; stored offsets committed");
        }
    }

    /// <summary>Returns false only when shutdown interrupted a record that is not yet recorded (it will be redelivered).</summary>
    private async Task<bool> HandleUntilRecordedAsync(ConsumeResult<string, byte[]> record, CancellationToken stoppingToken)
    {
        MessagePublished message;
        try
        {
            message = MessagePublished.FromUtf8Bytes(record.Message.Value);
        }
        catch (JsonException exception)
        {
            logger.LogError("Skipping unreadable record at {TopicPartitionOffset}: {Reason}", record.TopicPartitionOffset, exception.Message);
            return true;
        }

        while (true)
        {
            try
            {
                // In-flight work is finished even while shutting down; the request timeout bounds it.
                await DeliverAsync(message, CancellationToken.None);
                return true;
            }
            catch (Exception exception) when (exception is not OperationCanceledException)
            {
                logger.LogError(exception, "Could not record delivery of {MessageId}; retrying", message.MessageId);
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

    // The walking skeleton's delivery: one attempt per subscribed endpoint, in turn. The delivery engine (retries,
    // per-endpoint ordering and isolation) replaces this.
    private async Task DeliverAsync(MessagePublished message, CancellationToken cancellationToken)
    {
        foreach (var endpoint in await endpoints.SubscribedAsync(message.ApplicationId, message.EventType, cancellationToken))
        {
            var attempt = await sender.SendAsync(endpoint, message, cancellationToken);
            await attempts.RecordAsync(message, endpoint, attempt, cancellationToken);
            logger.LogInformation("Delivered {MessageId} to {EndpointId}: {Outcome} {HttpStatus} in {LatencyMs} ms",
                message.MessageId, endpoint.Id, attempt.Succeeded ? "succeeded" : "failed", attempt.HttpStatus, (int)attempt.Latency.TotalMilliseconds);
        }
    }
}
