using Confluent.Kafka;
using Confluent.Kafka.Admin;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Herald.ServiceDefaults.Kafka;

public sealed record KafkaTopicSet(IReadOnlyList<TopicSpecification> Topics);

/// <summary>
/// Creates missing topics at start-up with the partition counts Herald needs, rather than relying on a broker's
/// auto-creation defaults. Topics that exist are left alone.
/// </summary>
internal sealed class KafkaTopicInitializer(IAdminClient admin, KafkaTopicSet topics, ILogger<KafkaTopicInitializer> logger)
    : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (topics.Topics.Count == 0) return;
        var metadata = await Task.Run(() => admin.GetMetadata(TimeSpan.FromSeconds(10)), cancellationToken);
        var existing = metadata.Topics.Where(t => t.Error.Code == ErrorCode.NoError).Select(t => t.Topic).ToHashSet();
        var missing = topics.Topics.Where(t => !existing.Contains(t.Name)).ToList();
        if (missing.Count == 0) return;

        try
        {
            await admin.CreateTopicsAsync(missing);
            logger.LogInformation("Created Kafka topics {Topics}", string.Join(", ", missing.Select(t => t.Name)));
        }
        catch (CreateTopicsException exception) when (exception.Results.All(r => r.Error.Code is ErrorCode.NoError or ErrorCode.TopicAlreadyExists))
        {
            // Another replica created them first.
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
