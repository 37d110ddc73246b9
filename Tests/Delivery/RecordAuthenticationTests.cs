using System.Security.Cryptography;
using System.Text;
using Herald.Database;
using Herald.Deliveries;
using Herald.Kafka;
using Herald.Messages;
using Herald.Secrets;
using Herald.Tests.Harness;
using Npgsql;

namespace Herald.Tests.Delivery;

/// <summary>Whoever can write to Kafka cannot have Herald sign bytes of their choosing: records on Herald's topics
/// without its services' authentication are skipped, and what PostgreSQL holds is what is delivered.</summary>
[Collection(HeraldAppCollection.Name)]
public sealed class RecordAuthenticationTests(HeraldAppFixture herald)
{
    private static readonly TimeSpan DeliveryTimeout = TimeSpan.FromSeconds(30);

    private static readonly RecordAuthenticator Stranger = new(new SealingKeys(["a-key-herald-does-not-have-" + Convert.ToHexString(RandomNumberGenerator.GetBytes(16))]));

    [Fact]
    public async Task A_forged_delivery_task_is_not_sent_and_the_genuine_one_after_it_is()
    {
        var (app, url, endpointId) = await EndpointAsync();
        var message = new MessagePublished(SortableId.New("msg"), app, "forged.task", "{\"genuine\":true}", DateTimeOffset.UtcNow);
        // The message and its delivery as the fan-out leaves them, leased for an hour so only a task can send it now.
        await InsertAsync(message, endpointId);

        Task Produce(string payload, RecordAuthenticator? authenticator) => herald.ProduceAsync(Topics.Deliveries.Name, endpointId,
            new DeliveryTask(message.MessageId, endpointId, app, message.EventType, payload, message.CreatedAt, 1, DateTimeOffset.UtcNow).ToUtf8Bytes(),
            authenticator);
        await Produce("{\"forged\":\"unauthenticated\"}", null);
        await Produce("{\"forged\":\"another key\"}", Stranger);
        // Same key, same partition: consumed after the two forgeries.
        await Produce(message.Payload, herald.Records);

        var webhook = await herald.Receiver.WaitForAsync(message.MessageId, DeliveryTimeout, url.AbsolutePath);
        Assert.Equal(message.Payload, webhook.Body);
        await Task.Delay(TimeSpan.FromSeconds(1));
        Assert.Single(herald.Receiver.ReceivedAt(url));
    }

    [Fact]
    public async Task A_forged_message_record_is_not_fanned_out_and_the_message_goes_out_as_postgres_has_it()
    {
        var (app, url, _) = await EndpointAsync();
        var message = new MessagePublished(SortableId.New("msg"), app, "forged.message", "{\"genuine\":true}", DateTimeOffset.UtcNow);
        await InsertAsync(message, endpointId: null);

        var forged = message with { Payload = "{\"forged\":true}" };
        await herald.ProduceAsync(Topics.Messages.Name, message.MessageId, forged.ToUtf8Bytes(), null);
        await herald.ProduceAsync(Topics.Messages.Name, message.MessageId, forged.ToUtf8Bytes(), Stranger);

        // The sweep finds the committed message that no genuine record announced, and delivers what PostgreSQL holds.
        var webhook = await herald.Receiver.WaitForAsync(message.MessageId, DeliveryTimeout, url.AbsolutePath);
        Assert.Equal(message.Payload, webhook.Body);
        await Task.Delay(TimeSpan.FromSeconds(1));
        Assert.DoesNotContain(herald.Receiver.ReceivedAt(url), r => r.Body.Contains("forged", StringComparison.Ordinal));
    }

    private async Task<(string App, Uri Url, string EndpointId)> EndpointAsync()
    {
        var app = await herald.Admin.CreateApplicationAsync("record-authentication");
        var url = herald.Receiver.UrlFor("records-" + Guid.NewGuid().ToString("N"));
        var (endpointId, _) = await herald.Admin.CreateEndpointAsync(app, url);
        return (app, url, endpointId);
    }

    private async Task InsertAsync(MessagePublished message, string? endpointId)
    {
        await using var database = await herald.OpenDatabaseAsync();
        await using var insert = new NpgsqlCommand("""
            WITH message AS (
                INSERT INTO messages (id, application_id, event_type, payload, created_at)
                VALUES ($1, $2, $3, $4::json, $6)
                RETURNING id)
            INSERT INTO deliveries (message_id, endpoint_id, application_id, status, attempts, next_attempt_at, created_at, updated_at)
            SELECT id, $5, $2, 'pending', 0, now() + interval '1 hour', now(), now() FROM message WHERE $5::text IS NOT NULL
            """, database);
        insert.Parameters.Add(new() { Value = message.MessageId });
        insert.Parameters.Add(new() { Value = message.ApplicationId });
        insert.Parameters.Add(new() { Value = message.EventType });
        insert.Parameters.Add(new() { Value = message.Payload });
        insert.Parameters.Add(new() { Value = (object?)endpointId ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
        insert.Parameters.Add(new() { Value = message.CreatedAt });
        await insert.ExecuteNonQueryAsync();
    }
}
