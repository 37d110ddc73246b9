using Confluent.Kafka;

namespace Herald.ServiceDefaults.Kafka;

/// <summary>Whether the cluster answers: a metadata request. The services' readiness and the AppHost's health check of
/// its Kafka resource ask it this one way.</summary>
public static class KafkaProbe
{
    /// <param name="topic">The topic to ask about; null asks about every topic.</param>
    public static Task<Metadata> MetadataAsync(IAdminClient admin, string? topic, TimeSpan timeout, CancellationToken cancellationToken) =>
        // librdkafka blocks the calling thread for up to the timeout: a thread of its own, not a pool thread.
        Task.Factory.StartNew(() => topic is null ? admin.GetMetadata(timeout) : admin.GetMetadata(topic, timeout),
            cancellationToken, TaskCreationOptions.LongRunning, TaskScheduler.Default);
}
