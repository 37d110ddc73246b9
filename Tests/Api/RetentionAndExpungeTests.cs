using System.Net;
using System.Text.Json;
using Grpc.Core;
using Herald.Grpc.V1;
using Herald.Tests.Harness;
using Npgsql;

namespace Herald.Tests.Api;

/// <summary>A message's own retention, the retention pass (payloads and attempts' response bodies), and expunging a
/// payload on request (REST and gRPC).</summary>
[Collection(HeraldAppCollection.Name)]
public sealed class RetentionAndExpungeTests(HeraldAppFixture herald)
{
    private const string EventType = "invoice.paid";
    private static readonly string[] OtherTypes = ["other.type"];
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    [Theory]
    [InlineData("3599")]
    [InlineData("2678401")]
    [InlineData("\"1h\"")]
    [InlineData("1.5")]
    public async Task A_retention_out_of_bounds_or_not_whole_seconds_is_400_and_nothing_is_stored(string retention)
    {
        var app = await herald.Admin.CreateApplicationAsync();
        var (status, problem, _) = await herald.Admin.PostAsync($"/api/v1/apps/{app}/messages",
            $$"""{"eventType":"{{EventType}}","payload":{"n":1},"retention":{{retention}}}""");
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.True(problem.GetProperty("errors").TryGetProperty("retention", out _), problem.ToString());
        Assert.Equal(0L, await ScalarAsync("SELECT count(*) FROM messages WHERE application_id = $1", app));

        var grpc = await Assert.ThrowsAsync<RpcException>(() => new Herald.Grpc.V1.Messages.MessagesClient(herald.Grpc).CreateAsync(new CreateMessageRequest
        {
            AppId = app, EventType = EventType, PayloadJson = "{}", Retention = 60,
        }, HeraldAppFixture.Bearer(herald.AdminKey)).ResponseAsync);
        Assert.Equal(StatusCode.InvalidArgument, grpc.StatusCode);
        Assert.Contains("retention", grpc.Status.Detail);
    }

    [Fact]
    public async Task A_message_keeps_its_payload_for_its_own_retention_and_the_pass_clears_it_with_its_attempts_response_bodies()
    {
        var app = await herald.Admin.CreateApplicationAsync();
        var (endpoint, _) = await herald.Admin.CreateEndpointAsync(app, new Uri("https://example.com/retention"), OtherTypes);
        var own = (await herald.Admin.PostOkAsync($"/api/v1/apps/{app}/messages",
            new { eventType = EventType, payload = new { n = 1 }, retention = 3600 }, HttpStatusCode.Accepted)).GetProperty("id").GetString()!;
        var global = await herald.Admin.SendMessageAsync(app, EventType, new { n = 2 });
        var old = await herald.Admin.SendMessageAsync(app, EventType, new { n = 3 });

        // Stored as an expiry an hour after creation; the message without one follows the global period.
        Assert.Equal(3600.0, (double)(await ScalarAsync("SELECT extract(epoch FROM payload_expires_at - created_at) FROM messages WHERE id = $1", own))!);
        Assert.Null(await ScalarAsync("SELECT payload_expires_at FROM messages WHERE id = $1", global));

        foreach (var message in new[] { own, global, old }) await SeedAttemptAsync(app, message, endpoint, "received: secret body");
        // Its hour is up; the other's 30 days are (it is backdated); the third is young and has no period of its own.
        await ExecuteAsync("UPDATE messages SET payload_expires_at = now() - interval '1 second' WHERE id = $1", own);
        await ExecuteAsync("UPDATE messages SET created_at = created_at - interval '31 days' WHERE id = $1", old);

        Assert.True(await Eventually.HoldsAsync(async () =>
            await ScalarAsync("SELECT payload IS NULL FROM messages WHERE id = $1", own) is true
            && await ScalarAsync("SELECT payload IS NULL FROM messages WHERE id = $1", old) is true, Timeout), "the retention pass did not run");
        foreach (var message in new[] { own, old })
        {
            var (_, body, _) = await herald.Admin.GetAsync($"/api/v1/apps/{app}/messages/{message}");
            Assert.Equal(JsonValueKind.Null, body.GetProperty("payload").ValueKind);
            Assert.Equal(JsonValueKind.Null, body.GetProperty("expungedAt").ValueKind);
            var (_, attempts, _) = await herald.Admin.GetAsync($"/api/v1/apps/{app}/messages/{message}/attempts");
            Assert.Equal(JsonValueKind.Null, attempts.GetProperty("data")[0].GetProperty("responseBody").ValueKind);
        }
        var (_, kept, _) = await herald.Admin.GetAsync($"/api/v1/apps/{app}/messages/{global}");
        Assert.Equal(2, kept.GetProperty("payload").GetProperty("n").GetInt32());
        var (_, keptAttempts, _) = await herald.Admin.GetAsync($"/api/v1/apps/{app}/messages/{global}/attempts");
        Assert.Equal("received: secret body", keptAttempts.GetProperty("data")[0].GetProperty("responseBody").GetString());
    }

    [Fact]
    public async Task Expunging_erases_the_payload_ends_unfinished_deliveries_clears_response_bodies_and_the_idempotent_replay()
    {
        var app = await herald.Admin.CreateApplicationAsync();
        var key = await herald.Admin.CreateApplicationKeyAsync(app);
        using var client = herald.Client(key);
        var url = herald.Receiver.UrlFor("expunge-" + Guid.NewGuid().ToString("N"));
        herald.Receiver.ReplyAt(url, new Reply(200, Body: "echo: card 4242"));
        var (delivered, _) = await client.CreateEndpointAsync(app, url);
        var paused = (await client.PostOkAsync($"/api/v1/apps/{app}/endpoints",
            new { url = "https://example.com/paused", disabled = true })).GetProperty("id").GetString()!;

        var idempotencyKey = Guid.NewGuid().ToString();
        var request = new { eventType = EventType, payload = new { card = "4242 4242 4242 4242" } };
        var (status, created, _) = await client.PostAsync($"/api/v1/apps/{app}/messages", request, idempotencyKey);
        Assert.Equal(HttpStatusCode.Accepted, status);
        var message = created.GetProperty("id").GetString()!;
        await herald.Receiver.WaitForAsync(message, Timeout, url.AbsolutePath);
        Assert.True(await Eventually.HoldsAsync(async () => await DeliveryAsync(message, delivered) is ("succeeded", _)
            && await DeliveryAsync(message, paused) is ("paused", _), Timeout), "the deliveries did not settle");
        var (_, replay, replayed) = await client.PostAsync($"/api/v1/apps/{app}/messages", request, idempotencyKey);
        Assert.Contains("4242", replay.GetProperty("payload").GetRawText());
        Assert.True(replayed.Headers.Contains("idempotent-replayed"));

        (status, var expunged, _) = await client.DeleteAsync($"/api/v1/apps/{app}/messages/{message}/content");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(JsonValueKind.Null, expunged.GetProperty("payload").ValueKind);
        var expungedAt = expunged.GetProperty("expungedAt").GetDateTimeOffset();
        Assert.True(DateTimeOffset.UtcNow - expungedAt < TimeSpan.FromMinutes(1));

        var (_, read, _) = await client.GetAsync($"/api/v1/apps/{app}/messages/{message}");
        Assert.Equal(JsonValueKind.Null, read.GetProperty("payload").ValueKind);
        Assert.Equal(expungedAt, read.GetProperty("expungedAt").GetDateTimeOffset());
        Assert.Null(await ScalarAsync("SELECT payload::text FROM messages WHERE id = $1", message));
        // The deliveries and attempts stay; the finished one as it was, the paused one ended; no response body is left.
        Assert.Equal("succeeded", (await DeliveryAsync(message, delivered))?.Status);
        Assert.Equal<(string, string?)>(("failed", "expunged"), (await DeliveryAsync(message, paused))!.Value);
        Assert.Equal(1L, await ScalarAsync("SELECT count(*) FROM delivery_attempts WHERE message_id = $1", message));
        Assert.Equal(0L, await ScalarAsync("SELECT count(*) FROM delivery_attempts WHERE message_id = $1 AND response_body IS NOT NULL", message));
        var (_, attempts, _) = await client.GetAsync($"/api/v1/apps/{app}/messages/{message}/attempts");
        Assert.Equal(JsonValueKind.Null, attempts.GetProperty("data")[0].GetProperty("responseBody").ValueKind);

        // The same request with the same key now answers with the message as it is: no payload.
        (status, replay, _) = await client.PostAsync($"/api/v1/apps/{app}/messages", request, idempotencyKey);
        Assert.Equal(HttpStatusCode.Accepted, status);
        Assert.Equal(message, replay.GetProperty("id").GetString());
        Assert.Equal(JsonValueKind.Null, replay.GetProperty("payload").ValueKind);
        // The card number, not its digits alone: a timestamp's fraction may hold "4242".
        Assert.DoesNotContain("4242 4242", replay.GetRawText());
        Assert.Equal(0L, await ScalarAsync("SELECT count(*) FROM idempotency_keys WHERE response LIKE '%4242 4242%'", null));

        // Nothing can send it again: resend is refused, and enabling the endpoint does not resume the ended delivery.
        (status, var problem, _) = await client.PostAsync($"/api/v1/apps/{app}/messages/{message}/endpoints/{delivered}/resend", null);
        Assert.Equal(HttpStatusCode.Conflict, status);
        Assert.Contains("expunged", problem.GetProperty("title").GetString());
        await client.PutAsync($"/api/v1/apps/{app}/endpoints/{paused}", new { url = "https://example.com/paused", disabled = false });
        Assert.Equal<(string, string?)>(("failed", "expunged"), (await DeliveryAsync(message, paused))!.Value);

        // Again: no change. Unknown, or another application's: 404.
        (status, var again, _) = await client.DeleteAsync($"/api/v1/apps/{app}/messages/{message}/content");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(expungedAt, again.GetProperty("expungedAt").GetDateTimeOffset());
        Assert.Equal(HttpStatusCode.NotFound, (await client.DeleteAsync($"/api/v1/apps/{app}/messages/msg_unknown/content")).Status);
        var other = await herald.Admin.CreateApplicationAsync("other");
        using var outsider = herald.Client(await herald.Admin.CreateApplicationKeyAsync(other));
        Assert.Equal(HttpStatusCode.NotFound, (await outsider.DeleteAsync($"/api/v1/apps/{app}/messages/{message}/content")).Status);
    }

    [Fact]
    public async Task Grpc_expunges_too_and_resending_the_expunged_message_is_failed_precondition()
    {
        var auth = HeraldAppFixture.Bearer(herald.AdminKey);
        var messages = new Herald.Grpc.V1.Messages.MessagesClient(herald.Grpc);
        var deliveries = new Herald.Grpc.V1.Deliveries.DeliveriesClient(herald.Grpc);
        var app = await herald.Admin.CreateApplicationAsync();
        var (endpoint, _) = await herald.Admin.CreateEndpointAsync(app, new Uri("https://example.com/grpc-expunge"), OtherTypes);
        var created = await messages.CreateAsync(new CreateMessageRequest
        {
            AppId = app, EventType = EventType, PayloadJson = """{"email":"someone@example.com"}""", Retention = 7200,
        }, auth);
        Assert.Null(created.ExpungedAt);
        Assert.Equal(7200.0, (double)(await ScalarAsync("SELECT extract(epoch FROM payload_expires_at - created_at) FROM messages WHERE id = $1", created.Id))!);

        var expunged = await messages.ExpungeContentAsync(new MessageRef { AppId = app, MessageId = created.Id }, auth);
        Assert.Equal("", expunged.PayloadJson);
        Assert.NotNull(expunged.ExpungedAt);
        var read = await messages.GetAsync(new MessageRef { AppId = app, MessageId = created.Id }, auth);
        Assert.Equal("", read.PayloadJson);
        Assert.Equal(expunged.ExpungedAt, read.ExpungedAt);

        var resend = await Assert.ThrowsAsync<RpcException>(() => deliveries.ResendMessageAsync(
            new ResendMessageRequest { AppId = app, MessageId = created.Id, EndpointId = endpoint }, auth).ResponseAsync);
        Assert.Equal(StatusCode.FailedPrecondition, resend.StatusCode);
        Assert.Contains("expunged", resend.Status.Detail);
        var unknown = await Assert.ThrowsAsync<RpcException>(() => messages.ExpungeContentAsync(new MessageRef { AppId = app, MessageId = "msg_unknown" }, auth).ResponseAsync);
        Assert.Equal(StatusCode.NotFound, unknown.StatusCode);
    }

    // The endpoint does not subscribe to the type, so fan-out made no delivery: this one is the attempt's.
    private async Task SeedAttemptAsync(string app, string message, string endpoint, string responseBody) => await ExecuteAsync("""
        WITH delivery AS (
            INSERT INTO deliveries (message_id, endpoint_id, application_id, status, attempts, created_at, updated_at)
            VALUES ($1, $3, $2, 'succeeded', 1, now(), now()))
        INSERT INTO delivery_attempts (id, application_id, message_id, endpoint_id, status, http_status, latency_ms, response_body, attempted_at)
        VALUES ('atmpt_' || md5(random()::text), $2, $1, $3, 'succeeded', 200, 5, $4, now())
        """, message, app, endpoint, responseBody);

    private async Task<(string Status, string? LastError)?> DeliveryAsync(string message, string endpoint)
    {
        await using var database = await herald.OpenDatabaseAsync();
        await using var query = new NpgsqlCommand("SELECT status, last_error FROM deliveries WHERE message_id = $1 AND endpoint_id = $2", database);
        query.Parameters.Add(new() { Value = message });
        query.Parameters.Add(new() { Value = endpoint });
        await using var reader = await query.ExecuteReaderAsync();
        return await reader.ReadAsync() ? (reader.GetString(0), reader.IsDBNull(1) ? null : reader.GetString(1)) : null;
    }

    private async Task<object?> ScalarAsync(string sql, string? value)
    {
        await using var database = await herald.OpenDatabaseAsync();
        await using var command = new NpgsqlCommand(sql, database);
        if (value is not null) command.Parameters.Add(new() { Value = value });
        var result = await command.ExecuteScalarAsync();
        return result is DBNull ? null : result is decimal number ? (double)number : result;
    }

    private async Task ExecuteAsync(string sql, params object[] values)
    {
        await using var database = await herald.OpenDatabaseAsync();
        await using var command = new NpgsqlCommand(sql, database);
        foreach (var value in values) command.Parameters.Add(new() { Value = value });
        Assert.Equal(1, await command.ExecuteNonQueryAsync());
    }
}
