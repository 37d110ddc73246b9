using System.Net;
using Confluent.Kafka;
using Herald.AppHost.Infrastructure.Local;
using Herald.Messages;
using Herald.Tests.Harness;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace Herald.Tests.Api;

/// <summary>No acknowledged message is lost on the way to Kafka: not when Kafka is down, not when the API dies
/// between commit and publish.</summary>
[Collection(HeraldAppCollection.Name)]
public sealed class RelayTests(HeraldAppFixture herald)
{
    [Fact]
    public async Task Messages_accepted_while_every_broker_is_down_reach_the_topic_exactly_as_committed()
    {
        var app = await herald.Admin.CreateApplicationAsync();
        var cluster = herald.App.Services.GetRequiredService<KafkaMockCluster>();
        var accepted = new List<string>();
        for (var i = 0; i < 10; i++) accepted.Add(await herald.Admin.SendMessageAsync(app, "outage.before", new { i }));

        for (var broker = 1; broker <= cluster.Brokers; broker++) cluster.SetBrokerDown(broker);
        try
        {
            // Commits do not need Kafka: every one of these is acknowledged during the outage.
            for (var i = 0; i < 40; i++) accepted.Add(await herald.Admin.SendMessageAsync(app, "outage.during", new { i, text = "é ✓" }));
            // Outlast the producer's 3 s message timeout, so the relay, not the producer's retries, has to deliver
            // (and stay within the consumers' 10 s session: see the fixture).
            await Task.Delay(TimeSpan.FromSeconds(4));
        }
        finally
        {
            for (var broker = 1; broker <= cluster.Brokers; broker++) cluster.SetBrokerUp(broker);
        }
        for (var i = 0; i < 10; i++) accepted.Add(await herald.Admin.SendMessageAsync(app, "outage.after", new { i }));

        var committed = await CommittedPayloadsAsync(app);
        var onTopic = await ReadTopicAsync(cluster, accepted.ToHashSet(), TimeSpan.FromSeconds(60));

        Assert.Equal(accepted.Count, committed.Count);
        foreach (var id in accepted)
        {
            Assert.True(onTopic.TryGetValue(id, out var record), $"{id} was acknowledged but never reached Kafka.");
            Assert.Equal(committed[id], record.Payload);
            Assert.Equal(app, record.ApplicationId);
        }
    }

    [Fact]
    public async Task A_message_committed_by_an_api_that_died_before_publishing_is_relayed_and_delivered()
    {
        var app = await herald.Admin.CreateApplicationAsync();
        var url = herald.Receiver.UrlFor(Guid.NewGuid().ToString("N"));
        await herald.Admin.CreateEndpointAsync(app, url);

        // Exactly what a crash between COMMIT and produce leaves behind: a committed row, never published.
        var id = SortableId.New("msg");
        await using (var connection = await herald.OpenDatabaseAsync())
        {
            await using var insert = new NpgsqlCommand("""
                WITH message AS (
                    INSERT INTO messages (id, application_id, event_type, payload, created_at)
                    VALUES ($1, $2, 'crash.test', '{"orphan":true}', now())
                    RETURNING id, created_at)
                INSERT INTO message_outbox (message_id, created_at) SELECT id, created_at FROM message
                """, connection);
            insert.Parameters.Add(new() { Value = id });
            insert.Parameters.Add(new() { Value = app });
            await insert.ExecuteNonQueryAsync();
        }

        var webhook = await herald.Receiver.WaitForAsync(id, TimeSpan.FromSeconds(60), url.AbsolutePath);
        Assert.Equal("{\"orphan\":true}", webhook.Body);
        // The relay published it (the sweep leaves a message in the outbox alone) and took it out of the outbox.
        Assert.True(await Eventually.HoldsAsync(async () =>
        {
            await using var connection = await herald.OpenDatabaseAsync();
            await using var outbox = new NpgsqlCommand("SELECT count(*) FROM message_outbox WHERE message_id = $1", connection);
            outbox.Parameters.Add(new() { Value = id });
            return (long)(await outbox.ExecuteScalarAsync())! == 0;
        }, TimeSpan.FromSeconds(10)), "The relayed message stayed in the outbox.");
    }

    private async Task<Dictionary<string, string>> CommittedPayloadsAsync(string app)
    {
        await using var connection = await herald.OpenDatabaseAsync();
        await using var query = new NpgsqlCommand("SELECT id, payload::text FROM messages WHERE application_id = $1", connection);
        query.Parameters.Add(new() { Value = app });
        var payloads = new Dictionary<string, string>();
        await using var reader = await query.ExecuteReaderAsync();
        while (await reader.ReadAsync()) payloads[reader.GetString(0)] = reader.GetString(1);
        return payloads;
    }

    private static async Task<Dictionary<string, MessagePublished>> ReadTopicAsync(KafkaMockCluster cluster, HashSet<string> wanted, TimeSpan timeout)
    {
        using var consumer = new ConsumerBuilder<string, byte[]>(new ConsumerConfig
        {
            BootstrapServers = cluster.BootstrapServers,
            GroupId = "relay-test-" + Guid.NewGuid().ToString("N"),
            AutoOffsetReset = AutoOffsetReset.Earliest,
            EnableAutoCommit = false,
        }).Build();
        consumer.Subscribe(Herald.Kafka.Topics.Messages.Name);
        var found = new Dictionary<string, MessagePublished>();
        var deadline = DateTime.UtcNow + timeout;
        await Task.Run(() =>
        {
            while (found.Count < wanted.Count && DateTime.UtcNow < deadline)
            {
                if (consumer.Consume(TimeSpan.FromMilliseconds(500)) is { Message: { } message } && wanted.Contains(message.Key))
                    found[message.Key] = MessagePublished.FromUtf8Bytes(message.Value);
            }
        });
        consumer.Close();
        return found;
    }
}
