using Confluent.Kafka;
using Herald.AppHost.Infrastructure.Local;

namespace Herald.Tests.Unit;

/// <summary>The embedded broker speaks real Kafka protocol to the real client, and can rehearse an outage.</summary>
public sealed class KafkaMockClusterTests
{
    [Fact]
    public async Task Records_produced_idempotently_are_consumed_by_a_group_in_order()
    {
        using var cluster = new KafkaMockCluster(brokers: 3);
        cluster.CreateTopic("orders", partitions: 4, replicationFactor: 3);

        using var producer = new ProducerBuilder<string, string>(new ProducerConfig
        {
            BootstrapServers = cluster.BootstrapServers,
            EnableIdempotence = true,
            Acks = Acks.All,
        }).Build();
        for (var i = 0; i < 100; i++)
        {
            await producer.ProduceAsync("orders", new Message<string, string> { Key = "customer-1", Value = i.ToString() });
        }

        using var consumer = new ConsumerBuilder<string, string>(new ConsumerConfig
        {
            BootstrapServers = cluster.BootstrapServers,
            GroupId = "test",
            AutoOffsetReset = AutoOffsetReset.Earliest,
        }).Build();
        consumer.Subscribe("orders");
        var values = new List<int>();
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (values.Count < 100 && DateTime.UtcNow < deadline)
        {
            if (consumer.Consume(TimeSpan.FromMilliseconds(500)) is { } record) values.Add(int.Parse(record.Message.Value));
        }
        consumer.Close();

        Assert.Equal(Enumerable.Range(0, 100), values);
    }

    [Fact]
    public async Task Production_waits_out_a_full_outage_and_completes_when_brokers_return()
    {
        using var cluster = new KafkaMockCluster(brokers: 3);
        cluster.CreateTopic("events", partitions: 1, replicationFactor: 3);
        using var producer = new ProducerBuilder<Null, string>(new ProducerConfig
        {
            BootstrapServers = cluster.BootstrapServers,
            EnableIdempotence = true,
            MessageTimeoutMs = 120_000,
            ReconnectBackoffMaxMs = 1000,
        }).Build();
        await producer.ProduceAsync("events", new Message<Null, string> { Value = "before" });

        for (var broker = 1; broker <= 3; broker++) cluster.SetBrokerDown(broker);
        var during = producer.ProduceAsync("events", new Message<Null, string> { Value = "during" });
        await Task.Delay(TimeSpan.FromSeconds(2));
        Assert.False(during.IsCompleted, "A record was acknowledged while every broker was down.");

        for (var broker = 1; broker <= 3; broker++) cluster.SetBrokerUp(broker);
        var result = await during.WaitAsync(TimeSpan.FromSeconds(90));

        Assert.Equal(PersistenceStatus.Persisted, result.Status);
        Assert.Equal(1, result.Offset.Value);
    }

    [Fact]
    public async Task A_broker_down_hands_its_partitions_to_a_live_broker_as_a_controller_would()
    {
        using var cluster = new KafkaMockCluster(brokers: 3);
        cluster.CreateTopic("events", partitions: 3, replicationFactor: 3);
        using var producer = new ProducerBuilder<Null, string>(new ProducerConfig
        {
            BootstrapServers = cluster.BootstrapServers,
            EnableIdempotence = true,
            MessageTimeoutMs = 10_000,
            TopicMetadataRefreshIntervalMs = 1000,
        }).Build();
        for (var partition = 0; partition < 3; partition++)
            await producer.ProduceAsync(new TopicPartition("events", partition), new Message<Null, string> { Value = "before" });

        // Broker 2 led partition 1: with no new leader a record for it would wait until the broker came back.
        cluster.SetBrokerDown(2);
        var during = await producer.ProduceAsync(new TopicPartition("events", 1), new Message<Null, string> { Value = "during" })
            .WaitAsync(TimeSpan.FromSeconds(8));

        Assert.Equal(PersistenceStatus.Persisted, during.Status);
        Assert.Equal(1, during.Offset.Value);
    }
}
