using Herald.Kafka;
using Herald.ServiceDefaults.Kafka;

namespace Herald.Tests.Unit;

public sealed class TopicReplicationTests
{
    [Theory]
    [InlineData(1, 1, "1")]
    [InlineData(2, 2, "1")]
    [InlineData(3, 3, "2")]
    [InlineData(6, 3, "2")]
    public void Every_topic_is_replicated_so_an_acknowledged_record_survives_one_broker(int brokers, short replicas, string minInSync)
    {
        foreach (var topic in Topics.All.ToSpecifications().Select(t => t.Replicated(brokers)))
        {
            Assert.Equal(replicas, topic.ReplicationFactor);
            Assert.Equal(minInSync, topic.Configs["min.insync.replicas"]);
            Assert.Equal(Topics.All.Single(t => t.Name == topic.Name).Partitions, topic.NumPartitions);
        }
    }
}
