namespace Herald.Kafka;

public static class TopicSpecifications
{
    /// <summary>Replication is left to the broker's default (-1): 3 on a real cluster, 1 on a single dev broker.</summary>
    public static IReadOnlyList<Confluent.Kafka.Admin.TopicSpecification> ToSpecifications(this IEnumerable<TopicSpec> topics) =>
        [.. topics.Select(topic => new Confluent.Kafka.Admin.TopicSpecification
        {
            Name = topic.Name,
            NumPartitions = topic.Partitions,
            ReplicationFactor = -1,
        })];
}
