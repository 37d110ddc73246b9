using System.Net;
using Herald.Tests.Harness;
using Npgsql;

namespace Herald.Tests.Foundation;

/// <summary>What deleting an endpoint or an application takes with it: an attempt hangs off its delivery, a delivery
/// off its message and endpoint, and those off their application — one chain of cascades, no orphan rows.</summary>
[Collection(HeraldAppCollection.Name)]
public sealed class DeletionTests(HeraldAppFixture herald)
{
    private static readonly string[] EventTypes = ["deletion.test"];

    [Fact]
    public async Task Deleting_an_endpoint_removes_its_deliveries_and_attempts_and_deleting_the_application_removes_the_rest()
    {
        var app = await herald.Admin.CreateApplicationAsync("deletion");
        var (kept, _) = await herald.Admin.CreateEndpointAsync(app, herald.Receiver.UrlFor("deletion-kept"), EventTypes);
        var (deleted, _) = await herald.Admin.CreateEndpointAsync(app, herald.Receiver.UrlFor("deletion-deleted"), EventTypes);
        var message = await herald.Admin.SendMessageAsync(app, "deletion.test", new { n = 1 });
        await using var database = await herald.OpenDatabaseAsync();
        await WaitForAttemptsAsync(database, message, 2);

        Assert.Equal(HttpStatusCode.NoContent, (await herald.Admin.DeleteAsync($"/api/v1/apps/{app}/endpoints/{deleted}")).Status);
        Assert.Equal(0, await CountAsync(database, "SELECT count(*) FROM deliveries WHERE endpoint_id = $1", deleted));
        Assert.Equal(0, await CountAsync(database, "SELECT count(*) FROM delivery_attempts WHERE endpoint_id = $1", deleted));
        Assert.Equal(1, await CountAsync(database, "SELECT count(*) FROM delivery_attempts WHERE endpoint_id = $1", kept));

        Assert.Equal(HttpStatusCode.NoContent, (await herald.Admin.DeleteAsync($"/api/v1/apps/{app}")).Status);
        foreach (var table in new[] { "messages", "deliveries", "delivery_attempts" })
        {
            var column = table == "messages" ? "id" : "message_id";
            Assert.Equal(0, await CountAsync(database, $"SELECT count(*) FROM {table} WHERE {column} = $1", message));
        }
    }

    [Fact]
    public async Task An_attempt_cannot_be_recorded_for_a_delivery_that_does_not_exist()
    {
        var app = await herald.Admin.CreateApplicationAsync("orphan-attempt");
        var (endpoint, _) = await herald.Admin.CreateEndpointAsync(app, herald.Receiver.UrlFor("orphan-attempt"), ["never.sent"]);
        var message = await herald.Admin.SendMessageAsync(app, "deletion.test", new { n = 2 });
        await using var database = await herald.OpenDatabaseAsync();
        // The message exists and the endpoint exists, but the endpoint never subscribed to it: no delivery, so no attempt.
        await using var insert = new NpgsqlCommand("""
            INSERT INTO delivery_attempts (id, application_id, message_id, endpoint_id, status, latency_ms, attempted_at)
            VALUES ('atmpt_orphan_test', $1, $2, $3, 'succeeded', 1, now())
            """, database);
        insert.Parameters.Add(new() { Value = app });
        insert.Parameters.Add(new() { Value = message });
        insert.Parameters.Add(new() { Value = endpoint });
        var refused = await Assert.ThrowsAsync<PostgresException>(() => insert.ExecuteNonQueryAsync());
        Assert.Equal(PostgresErrorCodes.ForeignKeyViolation, refused.SqlState);
    }

    private static async Task WaitForAttemptsAsync(NpgsqlConnection database, string messageId, int count)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (await CountAsync(database, "SELECT count(*) FROM delivery_attempts WHERE message_id = $1", messageId) < count)
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"{messageId} did not get {count} attempts recorded within 30 s.");
            await Task.Delay(100);
        }
    }

    private static async Task<long> CountAsync(NpgsqlConnection database, string sql, string value)
    {
        await using var command = new NpgsqlCommand(sql, database);
        command.Parameters.Add(new() { Value = value });
        return (long)(await command.ExecuteScalarAsync())!;
    }
}
