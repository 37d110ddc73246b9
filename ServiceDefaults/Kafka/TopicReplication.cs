using Confluent.Kafka.Admin;

namespace Herald.ServiceDefaults.Kafka;

public static class TopicReplication
{
    /// <summary>A topic whose specification leaves replication to the broker (-1) gets three replicas and
    /// <c>min.insync.replicas=2</c> on a cluster of three or more brokers — an acknowledged record (acks=all) is then
    /// on two brokers, so losing one loses nothing — and one replica per broker with <c>min.insync.replicas=1</c> on a
    /// smaller (development) cluster, where two would refuse every write.</summary>
    public static TopicSpecification Replicated(this TopicSpecification topic, int brokers)
    {
        if (topic.ReplicationFactor > 0) return topic;
        var replicas = (short)Math.Clamp(brokers, 1, 3);
        return new TopicSpecification
        {
            Name = topic.Name,
            NumPartitions = topic.NumPartitions,
            ReplicationFactor = replicas,
            Configs = new Dictionary<string, string>(topic.Configs ?? [])
            {
                ["min.insync.replicas"] = replicas >= 3 ? "2" : "1",
            },
        };
    }
}
