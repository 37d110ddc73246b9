namespace Herald.Kafka;

public static class TopicSpecifications
{
    /// <summary>Replication is left open (-1): the services' topic initializer gives three replicas and
    /// min.insync.replicas 2 on a cluster of three or more brokers, one replica on a single development broker.</summary>
    public static IReadOnlyList<Confluent.Kafka.Admin.TopicSpecification> ToSpecifications(this IEnumerable<TopicSpec> topics) =>
        [.. topics.Select(topic => new Confluent.Kafka.Admin.TopicSpecification
        {
            Name = topic.Name,
            NumPartitions = topic.Partitions,
            ReplicationFactor = -1,
        })];
}
