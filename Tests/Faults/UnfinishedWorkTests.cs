using Aspire.Hosting.Testing;
using Confluent.Kafka;
using Herald.Messages;
using Herald.Tests.Harness;
using Npgsql;

namespace Herald.Tests.Faults;

/// <summary>Work is never left half-done: a task whose handling fails goes back to PostgreSQL and its Kafka record is
/// finished; a message published but never fanned out (its record lost) is fanned out by the sweep; a message whose
/// deliveries were created by a replica that died before their tasks reached Kafka is delivered when its record is
/// redelivered, not when their lease runs out.</summary>
[Collection(HeraldAppCollection.Name)]
public sealed class UnfinishedWorkTests(HeraldAppFixture herald)
{
    [Fact]
    public async Task A_delivery_whose_handling_fails_goes_back_to_postgres_and_its_record_is_finished()
    {
        var app = await herald.Admin.CreateApplicationAsync();
        // Written behind the API's back, as a bug or a bad migration could: no Processor can even parse this URL.
        var endpointId = SortableId.New("ep");
        await using (var database = await herald.OpenDatabaseAsync())
        {
            await using var insert = new NpgsqlCommand("""
                INSERT INTO endpoints (id, application_id, url, description, created_at, updated_at)
                VALUES ($1, $2, 'http://[not-a-url', '', now(), now())
                """, database);
            insert.Parameters.Add(new() { Value = endpointId });
            insert.Parameters.Add(new() { Value = app });
            await insert.ExecuteNonQueryAsync();
        }
        try
        {
            var messageId = await herald.Admin.SendMessageAsync(app, "broken.endpoint", new { n = 1 });

            // Handed back: moved on since fan-out created it, still pending, no attempt used, due again seconds later.
            Assert.True(await Eventually.HoldsAsync(async () =>
            {
                await using var database = await herald.OpenDatabaseAsync();
                await using var query = new NpgsqlCommand("""
                    SELECT count(*) FROM deliveries WHERE message_id = $1 AND endpoint_id = $2 AND updated_at > created_at
                      AND status = 'pending' AND attempts = 0 AND next_attempt_at > updated_at + interval '3 seconds'
                    """, database);
                query.Parameters.Add(new() { Value = messageId });
                query.Parameters.Add(new() { Value = endpointId });
                return (long)(await query.ExecuteScalarAsync())! == 1;
            }, TimeSpan.FromSeconds(30)), "The delivery was not handed back.");
            // And its record finished: no Processor holds it, and the group's offsets reach the end of every partition.
            Assert.True(await Eventually.HoldsAsync(async () =>
            {
                var processors = await herald.ScrapeProcessorsAsync();
                return PrometheusText.Sum(processors, "herald_deliveries_in_flight") == 0
                       && PrometheusText.Sum(processors, "herald_kafka_consumer_lag", s => s["consumer_group"] == "herald-delivery") == 0;
            }, TimeSpan.FromSeconds(30)), "The task's record stayed unfinished.");
        }
        finally
        {
            await herald.Admin.DeleteAsync($"/api/v1/apps/{app}/endpoints/{endpointId}");
        }
    }

    [Fact]
    public async Task A_published_message_whose_record_was_lost_is_fanned_out_by_the_sweep()
    {
        var app = await herald.Admin.CreateApplicationAsync();
        var url = herald.Receiver.UrlFor(Guid.NewGuid().ToString("N"));
        await herald.Admin.CreateEndpointAsync(app, url);

        // Published as far as PostgreSQL knows, but no record of it reached the fan-out (a broker lost it).
        var id = SortableId.New("msg");
        await using (var database = await herald.OpenDatabaseAsync())
        {
            await using var insert = new NpgsqlCommand("""
                INSERT INTO messages (id, application_id, event_type, payload, created_at)
                VALUES ($1, $2, 'lost.record', '{"lost":true}', now())
                """, database);
            insert.Parameters.Add(new() { Value = id });
            insert.Parameters.Add(new() { Value = app });
            await insert.ExecuteNonQueryAsync();
        }

        var webhook = await herald.Receiver.WaitForAsync(id, TimeSpan.FromSeconds(30), url.AbsolutePath);
        Assert.Equal("{\"lost\":true}", webhook.Body);
    }

    [Fact]
    public async Task Deliveries_created_by_a_replica_that_died_before_enqueueing_them_go_out_when_the_record_is_redelivered()
    {
        var app = await herald.Admin.CreateApplicationAsync();
        var url = herald.Receiver.UrlFor(Guid.NewGuid().ToString("N"));
        var (endpointId, _) = await herald.Admin.CreateEndpointAsync(app, url);

        // What a replica killed between committing the fan-out and producing its tasks leaves: the message, and its
        // delivery leased for an hour with no task anywhere. Its Kafka record's offset was never stored.
        var message = new MessagePublished(SortableId.New("msg"), app, "orphaned.delivery", "{\"orphaned\":true}", DateTimeOffset.UtcNow);
        await using (var database = await herald.OpenDatabaseAsync())
        {
            await using var insert = new NpgsqlCommand("""
                WITH message AS (
                    INSERT INTO messages (id, application_id, event_type, payload, created_at)
                    VALUES ($1, $2, $3, $4::jsonb, now())
                    RETURNING id)
                INSERT INTO deliveries (message_id, endpoint_id, application_id, status, attempts, next_attempt_at, created_at, updated_at)
                SELECT id, $5, $2, 'pending', 0, now() + interval '1 hour', now(), now() FROM message
                """, database);
            insert.Parameters.Add(new() { Value = message.MessageId });
            insert.Parameters.Add(new() { Value = app });
            insert.Parameters.Add(new() { Value = message.EventType });
            insert.Parameters.Add(new() { Value = message.Payload });
            insert.Parameters.Add(new() { Value = endpointId });
            await insert.ExecuteNonQueryAsync();
        }

        // The record, redelivered to the partition's next owner.
        await herald.ProduceAsync(Herald.Kafka.Topics.Messages.Name, message.MessageId, message.ToUtf8Bytes(), herald.Records);

        var webhook = await herald.Receiver.WaitForAsync(message.MessageId, TimeSpan.FromSeconds(30), url.AbsolutePath);
        Assert.Equal(message.Payload, webhook.Body);
    }
}
