using Confluent.Kafka;
using Confluent.Kafka.Admin;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Herald.ServiceDefaults.Kafka;

public sealed record KafkaTopicSet(IReadOnlyList<TopicSpecification> Topics);

/// <summary>
/// Creates missing topics with the partition counts Herald needs, rather than relying on a broker's auto-creation
/// defaults. Topics that exist are left alone. Runs in the background until it succeeds: a service that can serve
/// without Kafka (the API) must also start without it.
/// </summary>
/// <remarks>Replication as <see cref="TopicReplication.Replicated"/> decides for the cluster's size.</remarks>
internal sealed class KafkaTopicInitializer(IAdminClient admin, KafkaTopicSet topics, ILogger<KafkaTopicInitializer> logger)
    : BackgroundService
{
    private static readonly TimeSpan RetryEvery = TimeSpan.FromSeconds(5);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (topics.Topics.Count == 0) return;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await CreateMissingAsync(stoppingToken);
                return;
            }
            catch (KafkaException exception)
            {
                logger.LogWarning("Could not check or create Kafka topics, retrying in {Delay}: {Reason}", RetryEvery, exception.Error.Reason);
            }
            try
            {
                await Task.Delay(RetryEvery, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    private async Task CreateMissingAsync(CancellationToken cancellationToken)
    {
        var metadata = await Task.Factory.StartNew(() => admin.GetMetadata(TimeSpan.FromSeconds(10)), cancellationToken,
            TaskCreationOptions.LongRunning, TaskScheduler.Default);
        var existing = metadata.Topics.Where(t => t.Error.Code == ErrorCode.NoError).Select(t => t.Topic).ToHashSet();
        var missing = topics.Topics.Where(t => !existing.Contains(t.Name)).Select(t => t.Replicated(metadata.Brokers.Count)).ToList();
        if (missing.Count == 0) return;

        try
        {
            await admin.CreateTopicsAsync(missing);
            logger.LogInformation("Created Kafka topics {Topics}", string.Join(", ", missing.Select(t =>
                $"{t.Name} ({t.NumPartitions} partitions, {t.ReplicationFactor} replicas, min.insync.replicas {t.Configs?["min.insync.replicas"]})")));
        }
        catch (CreateTopicsException exception) when (exception.Results.All(r => r.Error.Code is ErrorCode.NoError or ErrorCode.TopicAlreadyExists))
        {
            // Another replica created them first.
        }
    }
}
